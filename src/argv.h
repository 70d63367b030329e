/* argv.h -- splitting a command line into words, as a shell would. */
#ifndef WSD_ARGV_H
#define WSD_ARGV_H

#include <stddef.h>

/*
 * Splits s into words like a POSIX shell splits a simple command, but
 * without expanding anything: blanks (space, tab) separate words; a
 * backslash outside quotes takes the next character literally; single
 * quotes keep everything up to the next single quote; inside double
 * quotes a backslash escapes only '"' and '\\' (elsewhere it stays).
 * Quotes may join parts of one word (a'b'"c" is abc); '' is an empty
 * word. Returns a NULL-ended vector of malloc'ed words (argv_free)
 * with *argc set, or NULL with *why set: an unterminated quote, a
 * trailing backslash, a control character, no word at all, or no
 * memory.
 */
char	**argv_split(const char *s, size_t *argc, const char **why);
/* Frees what argv_split returned; NULL is fine. */
void	  argv_free(char **argv);

/*
 * Whether s is NAME=VALUE with NAME an environment variable name
 * ([A-Za-z_][A-Za-z0-9_]*).
 */
int	  argv_env_valid(const char *s);

#endif
