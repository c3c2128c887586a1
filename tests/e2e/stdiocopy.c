/* stdiocopy: a stdio copy-loop server for the end-to-end tests. It accepts one connection
 * on 127.0.0.1 (port written to PORTFILE), writes a header with fprintf, copies FILE with
 * fread/fwrite through fdopen(socket), optionally mixes in direct write() calls after an
 * fflush, and a trailer, then closes. The expected byte stream is easy to rebuild:
 *   "BEGIN <size>\n" <file bytes, with "--MIX--\n" after every 4th chunk if --mix> "END\n"
 *
 * usage: stdiocopy FILE PORTFILE [--bufsize N] [--vbuf none|line|full:N] [--unlocked]
 *                                [--mix] [--in-vbuf N]
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

static void die(const char *what)
{
	perror(what);
	exit(1);
}

int main(int argc, char **argv)
{
	if (argc < 3) {
		fprintf(stderr, "usage: stdiocopy FILE PORTFILE [options]\n");
		return 2;
	}
	size_t bufsize = 65536, in_vbuf = 0;
	const char *vbuf = "default";
	int unlocked = 0, mix = 0;
	for (int i = 3; i < argc; i++) {
		if (!strcmp(argv[i], "--bufsize") && i + 1 < argc)
			bufsize = strtoul(argv[++i], NULL, 0);
		else if (!strcmp(argv[i], "--vbuf") && i + 1 < argc)
			vbuf = argv[++i];
		else if (!strcmp(argv[i], "--in-vbuf") && i + 1 < argc)
			in_vbuf = strtoul(argv[++i], NULL, 0);
		else if (!strcmp(argv[i], "--unlocked"))
			unlocked = 1;
		else if (!strcmp(argv[i], "--mix"))
			mix = 1;
		else {
			fprintf(stderr, "unknown option %s\n", argv[i]);
			return 2;
		}
	}
	int l = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = { .sin_family = AF_INET };
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	socklen_t al = sizeof a;
	if (l < 0 || bind(l, (void *)&a, sizeof a) || listen(l, 1) || getsockname(l, (void *)&a, &al))
		die("listen");
	char tmp[4096];
	snprintf(tmp, sizeof tmp, "%s.tmp", argv[2]);
	FILE *pf = fopen(tmp, "w");
	if (!pf || fprintf(pf, "%d\n", ntohs(a.sin_port)) < 0 || fclose(pf) || rename(tmp, argv[2]))
		die("port file");
	int s = accept(l, NULL, NULL);
	if (s < 0)
		die("accept");

	FILE *in = fopen(argv[1], "rb");
	FILE *out = fdopen(s, "wb");
	if (!in || !out)
		die("fopen/fdopen");
	static char inbuf[1 << 20];
	if (in_vbuf && setvbuf(in, inbuf, _IOFBF, in_vbuf < sizeof inbuf ? in_vbuf : sizeof inbuf))
		die("setvbuf in");
	static char outbuf[1 << 20];
	if (!strcmp(vbuf, "none"))
		setvbuf(out, NULL, _IONBF, 0);
	else if (!strcmp(vbuf, "line"))
		setvbuf(out, NULL, _IOLBF, 0);
	else if (!strncmp(vbuf, "full:", 5)) {
		size_t n = strtoul(vbuf + 5, NULL, 0);
		setvbuf(out, outbuf, _IOFBF, n < sizeof outbuf ? n : sizeof outbuf);
	}
	struct stat st;
	fstat(fileno(in), &st);
	fprintf(out, "BEGIN %lld\n", (long long)st.st_size);
	char *buf = malloc(bufsize);
	size_t n, chunks = 0;
	while ((n = unlocked ? fread_unlocked(buf, 1, bufsize, in) : fread(buf, 1, bufsize, in)) > 0) {
		size_t w = unlocked ? fwrite_unlocked(buf, 1, n, out) : fwrite(buf, 1, n, out);
		if (w != n)
			die("fwrite");
		if (mix && ++chunks % 4 == 0) {
			/* order check: stdio's pending bytes first, then a direct write */
			if (fflush(out) || write(s, "--MIX--\n", 8) != 8)
				die("mix");
		}
	}
	if (ferror(in))
		die("fread");
	fputs("END\n", out);
	if (fclose(out))
		die("fclose out");
	fclose(in);
	free(buf);
	return 0;
}
