// SPDX-License-Identifier: GPL-2.0
/* Colour output for `wg show', decided once per process. */
#include <stdarg.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "terminal.h"

static bool want_colour(void)
{
	static int decided = -1;
	const char *mode;

	if (decided >= 0)
		return decided;
	mode = getenv("WG_COLOR_MODE");
	if (mode && !strcmp(mode, "always"))
		decided = 1;
	else if (mode && !strcmp(mode, "never"))
		decided = 0;
	else
		decided = isatty(STDOUT_FILENO) ? 1 : 0;
	return decided;
}

void terminal_strip(char *s)
{
	char *out = s;

	while (*s) {
		if (s[0] == '\x1b' && s[1] == '[') {
			char *end = s + 2;

			while (*end && *end != 'm')
				++end;
			if (*end == 'm') {
				s = end + 1;
				continue;
			}
		}
		*out++ = *s++;
	}
	*out = '\0';
}

void terminal_printf(const char *fmt, ...)
{
	char stackbuf[1024], *buf = stackbuf;
	va_list ap;
	int len;

	va_start(ap, fmt);
	len = vsnprintf(stackbuf, sizeof(stackbuf), fmt, ap);
	va_end(ap);
	if (len < 0)
		return;
	if ((size_t)len >= sizeof(stackbuf)) {
		buf = malloc((size_t)len + 1);
		if (!buf)
			return;
		va_start(ap, fmt);
		vsnprintf(buf, (size_t)len + 1, fmt, ap);
		va_end(ap);
	}
	if (!want_colour())
		terminal_strip(buf);
	fputs(buf, stdout);
	if (buf != stackbuf)
		free(buf);
}
