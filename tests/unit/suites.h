/* suites.h -- every check suite of the unit test runner. */
#ifndef WSD_TEST_SUITES_H
#define WSD_TEST_SUITES_H

#include <check.h>

Suite	*access_suite(void);
Suite	*app_suite(void);
Suite	*channel_suite(void);
Suite	*argv_suite(void);
Suite	*cidr_suite(void);
Suite	*cluster_suite(void);
Suite	*config_suite(void);
Suite	*counter_suite(void);
Suite	*http_suite(void);
Suite	*log_suite(void);
Suite	*pmd_suite(void);
Suite	*iplimit_suite(void);
Suite	*jwt_suite(void);
Suite	*proxy_suite(void);
Suite	*sd_suite(void);
Suite	*static_suite(void);
Suite	*stats_suite(void);
Suite	*tls_suite(void);
Suite	*utf8_suite(void);
Suite	*ws_suite(void);

#endif
