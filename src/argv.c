/* argv.c -- splitting a command line into words, as a shell would. */
#include <stdlib.h>
#include <string.h>

#include "argv.h"

/* Frees a word vector. */
void
argv_free(char **argv)
{
	size_t	i;

	if (argv == NULL)
		return;
	for (i = 0; argv[i] != NULL; i++)
		free(argv[i]);
	free(argv);
}

/* Appends the word w (taken over) to the vector; -1: no memory. */
static int
argv_push(char ***v, size_t *n, char *w)
{
	char	**nv;

	if ((nv = reallocarray(*v, *n + 2, sizeof(*nv))) == NULL)
		return -1;
	nv[(*n)++] = w;
	nv[*n] = NULL;
	*v = nv;
	return 0;
}

/* Splits s into words (see argv.h). */
char **
argv_split(const char *s, size_t *argc, const char **why)
{
	char		**v = NULL, *w = NULL;
	size_t		  n = 0, wl = 0;
	const char	 *p;
	int		  inword = 0;
	char		  q = 0;

	*argc = 0;
	*why = "out of memory";
	/* A word is never longer than the line. */
	if ((w = malloc(strlen(s) + 1)) == NULL)
		return NULL;
	for (p = s; *p != '\0'; p++) {
		if ((unsigned char)*p < 0x20 && *p != '\t') {
			*why = "control character in command line";
			goto fail;
		}
		if (q == '\'') {
			if (*p == '\'')
				q = 0;
			else
				w[wl++] = *p;
			continue;
		}
		if (q == '"') {
			if (*p == '"')
				q = 0;
			else if (*p == '\\' && (p[1] == '"' || p[1] == '\\'))
				w[wl++] = *++p;
			else
				w[wl++] = *p;
			continue;
		}
		if (*p == ' ' || *p == '\t') {
			if (!inword)
				continue;
			w[wl] = '\0';
			if (argv_push(&v, &n, w) == -1)
				goto fail;
			if ((w = malloc(strlen(p) + 1)) == NULL)
				goto fail;
			wl = 0;
			inword = 0;
			continue;
		}
		inword = 1;
		if (*p == '\'' || *p == '"')
			q = *p;
		else if (*p == '\\') {
			if (p[1] == '\0') {
				*why = "backslash at the end of the command line";
				goto fail;
			}
			w[wl++] = *++p;
		} else
			w[wl++] = *p;
	}
	if (q != 0) {
		*why = q == '"' ? "unterminated double quote" :
		    "unterminated single quote";
		goto fail;
	}
	if (inword) {
		w[wl] = '\0';
		if (argv_push(&v, &n, w) == -1)
			goto fail;
		w = NULL;
	}
	free(w);
	if (n == 0) {
		*why = "empty command line";
		argv_free(v);
		return NULL;
	}
	*argc = n;
	*why = NULL;
	return v;
fail:
	free(w);
	argv_free(v);
	return NULL;
}

/* Whether s is NAME=VALUE with a valid environment variable name. */
int
argv_env_valid(const char *s)
{
	const char	*p;

	if (!(*s == '_' || (*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z')))
		return 0;
	for (p = s + 1; *p != '=' ; p++)
		if (!(*p == '_' || (*p >= 'A' && *p <= 'Z') ||
		    (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9')))
			return 0;
	return 1;
}
