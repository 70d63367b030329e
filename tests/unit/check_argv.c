/* check_argv.c -- unit tests for command line splitting. */
#include <stdlib.h>
#include <string.h>

#include "argv.h"
#include "suites.h"

/* Splits s and checks the words against want (NULL-ended). */
static void
split_is(const char *s, const char *const *want)
{
	const char	*why;
	char		**v;
	size_t		  n, i;

	v = argv_split(s, &n, &why);
	ck_assert_msg(v != NULL, "%s: %s", s, why ? why : "?");
	for (i = 0; want[i] != NULL; i++) {
		ck_assert_msg(i < n, "%s: only %zu words", s, n);
		ck_assert_str_eq(v[i], want[i]);
	}
	ck_assert_uint_eq(n, i);
	ck_assert_ptr_null(v[n]);
	argv_free(v);
}

/* Splitting s must fail with a message containing part. */
static void
split_fails(const char *s, const char *part)
{
	const char	*why;
	char		**v;
	size_t		  n;

	v = argv_split(s, &n, &why);
	ck_assert_msg(v == NULL, "%s: split", s);
	ck_assert_ptr_nonnull(why);
	ck_assert_msg(strstr(why, part) != NULL, "%s: %s", s, why);
}

START_TEST(test_plain)
{
	split_is("/bin/cat", (const char *[]){ "/bin/cat", NULL });
	split_is("  /usr/local/bin/chat   --room\tmain  ",
	    (const char *[]){ "/usr/local/bin/chat", "--room", "main", NULL });
}
END_TEST

START_TEST(test_quotes)
{
	split_is("/bin/echo 'a b' \"c d\"",
	    (const char *[]){ "/bin/echo", "a b", "c d", NULL });
	/* Quotes join parts of one word; '' is an empty word. */
	split_is("/x a'b'\"c\"d '' \"\"",
	    (const char *[]){ "/x", "abcd", "", "", NULL });
	/* Nothing is special inside single quotes. */
	split_is("/x 'a\\b \"c'", (const char *[]){ "/x", "a\\b \"c", NULL });
	/* Inside double quotes only \" and \\ are escapes. */
	split_is("/x \"a\\\"b\\\\c\\n'\"",
	    (const char *[]){ "/x", "a\"b\\c\\n'", NULL });
}
END_TEST

START_TEST(test_backslash)
{
	split_is("/x a\\ b \\'c\\\" \\\\",
	    (const char *[]){ "/x", "a b", "'c\"", "\\", NULL });
	/* No expansion: $, * and ; are plain characters. */
	split_is("/x $HOME * ;", (const char *[]){ "/x", "$HOME", "*", ";",
	    NULL });
}
END_TEST

START_TEST(test_errors)
{
	split_fails("/x 'abc", "unterminated single quote");
	split_fails("/x \"abc", "unterminated double quote");
	split_fails("/x \"a\\\"", "unterminated double quote");
	split_fails("/x abc\\", "backslash at the end");
	split_fails("", "empty");
	split_fails("   \t ", "empty");
	split_fails("/x a\001b", "control character");
}
END_TEST

START_TEST(test_env_valid)
{
	ck_assert(argv_env_valid("A=1"));
	ck_assert(argv_env_valid("_x9=a=b"));
	ck_assert(argv_env_valid("X="));
	ck_assert(!argv_env_valid("=1"));
	ck_assert(!argv_env_valid("9A=1"));
	ck_assert(!argv_env_valid("A-B=1"));
	ck_assert(!argv_env_valid("NOEQUALS"));
}
END_TEST

/* The argv suite. */
Suite *
argv_suite(void)
{
	Suite	*s = suite_create("argv");
	TCase	*tc = tcase_create("core");

	tcase_add_test(tc, test_plain);
	tcase_add_test(tc, test_quotes);
	tcase_add_test(tc, test_backslash);
	tcase_add_test(tc, test_errors);
	tcase_add_test(tc, test_env_valid);
	suite_add_tcase(s, tc);
	return s;
}
