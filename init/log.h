/* SPDX-License-Identifier: MIT */
/*
 * init's log: one line per message to /dev/kmsg as "<level>init: message",
 * so it lands in the kernel log next to the boot messages and on the console
 * when level < console loglevel.  The device is opened once; until it can be
 * (before /dev is mounted) or if it cannot, lines go to stderr instead.
 */
#ifndef INIT_LOG_H
#define INIT_LOG_H

/* syslog levels */
#define LOG_LVL_ERR 3
#define LOG_LVL_WARNING 4
#define LOG_LVL_NOTICE 5
#define LOG_LVL_INFO 6
#define LOG_LVL_DEBUG 7

/* Open /dev/kmsg if not yet open.  Returns 0 or a negative errno. */
int log_open(void);

/* The fd in use, or -1 when logging to stderr. */
int log_fd(void);

void log_msg(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define log_err(...) log_msg(LOG_LVL_ERR, __VA_ARGS__)
#define log_warning(...) log_msg(LOG_LVL_WARNING, __VA_ARGS__)
#define log_notice(...) log_msg(LOG_LVL_NOTICE, __VA_ARGS__)
#define log_info(...) log_msg(LOG_LVL_INFO, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_LVL_DEBUG, __VA_ARGS__)

#endif
