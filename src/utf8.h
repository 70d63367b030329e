/* utf8.h -- incremental UTF-8 validator (pure). */
#ifndef WSD_UTF8_H
#define WSD_UTF8_H

#include <stddef.h>
#include <stdint.h>

/*
 * DFA states. UTF8_ACCEPT: the bytes so far are complete, valid UTF-8.
 * UTF8_REJECT: the prefix can never become valid (sticky). Any other value:
 * valid so far, in the middle of a sequence.
 */
#define UTF8_ACCEPT	0
#define UTF8_REJECT	1

/*
 * Feeds len bytes to the validator starting from state and returns the new
 * state. Returns UTF8_REJECT as soon as a byte makes the prefix invalid
 * (overlong forms, surrogates, code points above U+10FFFF, bad continuation
 * bytes), so callers can fail a message in the middle of a frame.
 */
uint32_t	utf8_validate(uint32_t state, const uint8_t *s, size_t len);

/* Whole-buffer check: 1 if s is complete valid UTF-8, else 0. */
int		utf8_valid(const uint8_t *s, size_t len);

#endif
