/* SPDX-License-Identifier: GPL-2.0 */
#ifndef WG_TERMINAL_H
#define WG_TERMINAL_H

#include <stdio.h>

#define TERM_RESET "\x1b[0m"
#define TERM_BOLD "\x1b[1m"
#define TERM_GREEN "\x1b[32m"
#define TERM_YELLOW "\x1b[33m"
#define TERM_CYAN "\x1b[36m"

/* printf that keeps ANSI colour sequences only when colour is wanted
 * (WG_COLOR_MODE=always|never|auto, auto meaning stdout is a terminal). */
void terminal_printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Remove every "ESC [ ... m" sequence from s, in place. */
void terminal_strip(char *s);

#endif
