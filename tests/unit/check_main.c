/* check_main.c -- runs every unit test suite. */
#include <stdlib.h>

#include "app.h"
#include "log.h"
#include "suites.h"

int
main(void)
{
	SRunner	*sr;
	int	 failed;

	/* Keep the modules' own log lines out of the test report. */
	log_init(LOG_LVL_ERROR);
	/* As main() does: config.c learns the apps' names and keys. */
	app_register();
	sr = srunner_create(utf8_suite());
	srunner_add_suite(sr, ws_suite());
	srunner_add_suite(sr, http_suite());
	srunner_add_suite(sr, static_suite());
	srunner_add_suite(sr, config_suite());
	srunner_add_suite(sr, counter_suite());
	srunner_add_suite(sr, access_suite());
	srunner_add_suite(sr, jwt_suite());
	srunner_add_suite(sr, sd_suite());
	srunner_add_suite(sr, cidr_suite());
	srunner_add_suite(sr, cluster_suite());
	srunner_add_suite(sr, proxy_suite());
	srunner_add_suite(sr, iplimit_suite());
	srunner_add_suite(sr, pmd_suite());
	srunner_add_suite(sr, stats_suite());
	srunner_add_suite(sr, log_suite());
	srunner_add_suite(sr, app_suite());
	srunner_add_suite(sr, tls_suite());
	srunner_add_suite(sr, channel_suite());
	srunner_add_suite(sr, argv_suite());
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
