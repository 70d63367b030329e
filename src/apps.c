/* apps.c -- the table of built-in apps. */
#include <string.h>

#include "app.h"

extern const struct app app_echo;
extern const struct app app_hello;

static const struct app *const apps[] = {
	&app_echo,
	&app_hello,
};

/* Finds a built-in app by name. */
const struct app *
app_find(const char *name)
{
	size_t	i;

	for (i = 0; i < sizeof(apps) / sizeof(apps[0]); i++)
		if (strcmp(apps[i]->name, name) == 0)
			return apps[i];
	return NULL;
}

/* Lists the app names, "static" first, for messages. */
const char *
app_names(void)
{
	return "static echo hello";
}
