/*
 * fuzz_config.c -- libFuzzer target for the config parser: the input is
 * an INI file given to config_load_string(). Either a config or errors
 * come back, every error naming the file; a config answers route lookups,
 * prints (wsd -T) and has no changes from itself. Inputs with include
 * lines are skipped: they would read the fuzzing machine's files.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app.h"
#include "config.h"
#include "fuzz.h"

#define FUZZ_CONFIG_NAME	"fuzz.ini"

/* Checks that every line of errors is "fuzz.ini:...". */
static void
fuzz_config_errors(const char *errors)
{
	const char	*line = errors, *nl;

	FUZZ_CHECK(*errors != '\0');
	while (*line != '\0') {
		FUZZ_CHECK(strncmp(line, FUZZ_CONFIG_NAME ":",
		    sizeof(FUZZ_CONFIG_NAME)) == 0);
		if ((nl = strchr(line, '\n')) == NULL)
			break;
		line = nl + 1;
	}
}

/* Loads the input as config text and looks a few paths up. */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const paths[] = {
		"/", "/echo", "/hello", "/static/x", "/a/b/c", "",
	};
	static const char *const hosts[] = {
		"example.org", "A.Example.NET:443", NULL, "[::1]:80", ":1",
		"www.example.org.",
	};
	const struct wsd_route *r;
	struct wsd_config *conf;
	char		*text, *errors = NULL, *printed = NULL;
	size_t		 i, len = 0;
	FILE		*fp;
	static int	 registered;

	/* As main() does: config.c learns the apps' names and keys. */
	if (!registered) {
		app_register();
		registered = 1;
	}
	if ((text = malloc(size + 1)) == NULL)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	if (strstr(text, "include") != NULL) {
		free(text);
		return 0;
	}
	conf = config_load_string(FUZZ_CONFIG_NAME, text, &errors);
	if (conf == NULL) {
		FUZZ_CHECK(errors != NULL);
		fuzz_config_errors(errors);
	} else {
		FUZZ_CHECK(errors == NULL);
		for (i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
			r = config_route_match(conf, paths[i]);
			FUZZ_CHECK(r == NULL || (r >= conf->routes &&
			    r < conf->routes + conf->nroutes));
			/* Virtual hosts: a Host header picks among them. */
			r = config_route_match_host(conf, hosts[i], paths[i]);
			FUZZ_CHECK(r == NULL || (r >= conf->routes &&
			    r < conf->routes + conf->nroutes));
		}
		FUZZ_CHECK(config_changes(conf, conf) == NULL);
		if ((fp = open_memstream(&printed, &len)) != NULL) {
			config_print(conf, fp);
			FUZZ_CHECK(fclose(fp) == 0);
			FUZZ_CHECK(strstr(printed, "\n[server]\n") != NULL);
			free(printed);
		}
		config_free(conf);
	}
	free(errors);
	free(text);
	return 0;
}
