#!/usr/bin/env bash
# Installs the Debian packages the build and the tests need; as non-root, prints the
# command and fails instead.
set -u
need_pkgs=()
have_hdr() { [ -f "/usr/include/$1" ]; }
have_hdr uthash.h  || need_pkgs+=(uthash-dev)
have_hdr cmocka.h  || need_pkgs+=(libcmocka-dev)
command -v nc      >/dev/null 2>&1 && nc -h 2>&1 | grep -q 'OpenBSD netcat' || need_pkgs+=(netcat-openbsd)
command -v curl    >/dev/null 2>&1 || need_pkgs+=(curl)
command -v python3 >/dev/null 2>&1 || need_pkgs+=(python3)
command -v valgrind >/dev/null 2>&1 || need_pkgs+=(valgrind)
command -v strace  >/dev/null 2>&1 || need_pkgs+=(strace)
command -v nginx   >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || need_pkgs+=(nginx-light)
[ -x /usr/sbin/apache2 ] || need_pkgs+=(apache2)
[ -x /usr/sbin/lighttpd ] || need_pkgs+=(lighttpd)
[ -x /usr/sbin/vsftpd ]  || need_pkgs+=(vsftpd)
command -v wrk     >/dev/null 2>&1 || need_pkgs+=(wrk)
command -v socat   >/dev/null 2>&1 || need_pkgs+=(socat)
command -v clang-14 >/dev/null 2>&1 || need_pkgs+=(clang-14)
[ -f /usr/lib/llvm-14/lib/clang/14.0.6/lib/linux/libclang_rt.fuzzer-x86_64.a ] ||
	ls /usr/lib/llvm-14/lib/clang/*/lib/linux/libclang_rt.fuzzer-x86_64.a >/dev/null 2>&1 ||
	need_pkgs+=(libclang-rt-14-dev)
command -v openssl >/dev/null 2>&1 || need_pkgs+=(openssl)
command -v setpriv >/dev/null 2>&1 || need_pkgs+=(util-linux)
# Runtimes that copy before they write (test_runtimes.sh, issue 11).
command -v sbcl    >/dev/null 2>&1 || need_pkgs+=(sbcl)
[ -d /usr/share/common-lisp/source/hunchentoot ] || need_pkgs+=(cl-hunchentoot)
command -v perl    >/dev/null 2>&1 || need_pkgs+=(perl)
command -v php     >/dev/null 2>&1 || need_pkgs+=(php-cli)
command -v javac   >/dev/null 2>&1 || need_pkgs+=(openjdk-17-jdk-headless)
# h2o ends by _exit from a worker thread (test_h2o.sh).
command -v h2o     >/dev/null 2>&1 || need_pkgs+=(h2o)
# The Prometheus output is parsed by the Prometheus client's own parser (test_prometheus.sh),
# with Debian's python3: a python3 of pyenv earlier in PATH does not see Debian's modules.
/usr/bin/python3 -c 'import prometheus_client.parser' >/dev/null 2>&1 || need_pkgs+=(python3-prometheus-client)
# A pid reused on purpose, in a pid namespace of the test's own (test_stat_pids.sh).
command -v unshare >/dev/null 2>&1 || need_pkgs+=(util-linux)
# make deb and its test (test_deb.sh).
command -v dpkg-shlibdeps >/dev/null 2>&1 || need_pkgs+=(dpkg-dev)
command -v lintian >/dev/null 2>&1 || need_pkgs+=(lintian)
# Issue 19: real programs whose copy patterns the engine does not reach yet.
[ -x /usr/sbin/varnishd ] || need_pkgs+=(varnish)
[ -x /usr/sbin/squid ]    || need_pkgs+=(squid)
ls /usr/sbin/php-fpm* >/dev/null 2>&1 || need_pkgs+=(php-fpm)
command -v clisp   >/dev/null 2>&1 || need_pkgs+=(clisp)
[ -x /usr/bin/python3 ] && /usr/bin/python3 -c 'import tornado' 2>/dev/null || need_pkgs+=(python3-tornado)
[ -x /usr/bin/python3 ] && /usr/bin/python3 -c 'import twisted' 2>/dev/null || need_pkgs+=(python3-twisted)
command -v node    >/dev/null 2>&1 || need_pkgs+=(nodejs)
[ ${#need_pkgs[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
	echo "make test needs: ${need_pkgs[*]}" >&2
	echo "install them with: sudo apt-get install -y ${need_pkgs[*]}" >&2
	exit 1
fi
echo "installing: ${need_pkgs[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null && apt-get install -y -qq "${need_pkgs[@]}" >/dev/null ||
	{ echo "apt-get install ${need_pkgs[*]} failed" >&2; exit 1; }
