#!/usr/bin/env bash
# Only the wrapped libc entry points are exported (-fvisibility=hidden holds); _exit and _Exit
# are wrapped for the stats line (src/init.c).
. "$(dirname "$0")/lib.sh"
expected="_exit _Exit mmap mmap64 mprotect munmap mremap __close __fread_chk __fread_unlocked_chk __longjmp_chk __sigaction __sysv_signal __vfork _longjmp bsd_signal longjmp setsockopt sigaction siginterrupt siglongjmp signal sigset ssignal sysv_signal vfork __open64_2 __open_2 __openat64_2 __openat_2 __pread64_chk __pread_chk __read __read_chk __recv_chk __recvfrom_chk __write accept accept4 close close_range closefrom creat creat64 dup dup2 dup3 fclose fcntl fcntl64 fopen fopen64 fread fread_unlocked freopen freopen64 fwrite fwrite_unlocked lseek lseek64 open open64 openat openat64 pread pread64 preadv preadv2 preadv64 preadv64v2 read readv recv recvfrom recvmsg send sendmsg sendto socket socketpair write writev"
got=$(nm -D --defined-only "$ASF_LIB" | awk '$2 ~ /^[TW]$/ {print $3}' | sort | tr '\n' ' ' | sed 's/ $//')
want=$(echo $expected | tr ' ' '\n' | sort | tr '\n' ' ' | sed 's/ $//')
[ "$got" = "$want" ] || fail "exported: [$got], expected: [$want]"
echo "exports: $got"
