/* utf8.c -- incremental UTF-8 validator (pure, table-driven DFA). */
#include <stddef.h>
#include <stdint.h>

#include "utf8.h"

/*
 * A DFA in the manner of Bjoern Hoehrmann's decoder: every byte maps to a
 * class, and (state, class) to the next state. The states that are neither
 * UTF8_ACCEPT nor UTF8_REJECT say which continuation bytes may follow, so a
 * byte that can never lead to valid UTF-8 (RFC 3629 section 4) is rejected
 * at once instead of at the end of its sequence.
 */

/* Byte classes. */
enum {
	C_ASCII,	/* 00..7F */
	C_CONT_LO,	/* 80..8F */
	C_CONT_MID,	/* 90..9F */
	C_CONT_HI,	/* A0..BF */
	C_BAD,		/* C0..C1 (overlong), F5..FF (above U+10FFFF) */
	C_LEAD2,	/* C2..DF */
	C_E0,		/* E0: A0..BF must follow (no overlongs) */
	C_LEAD3,	/* E1..EC, EE..EF */
	C_ED,		/* ED: 80..9F must follow (no surrogates) */
	C_F0,		/* F0: 90..BF must follow (no overlongs) */
	C_LEAD4,	/* F1..F3 */
	C_F4,		/* F4: 80..8F must follow (nothing above U+10FFFF) */
	C_COUNT
};

/* States besides UTF8_ACCEPT (0) and UTF8_REJECT (1). */
enum {
	S_NEED1 = 2,	/* one continuation byte to go */
	S_NEED2,	/* two to go */
	S_E0,		/* after E0 */
	S_ED,		/* after ED */
	S_NEED3,	/* three to go */
	S_F0,		/* after F0 */
	S_F4,		/* after F4 */
	S_COUNT
};

#define A	C_ASCII
#define L	C_CONT_LO
#define M	C_CONT_MID
#define H	C_CONT_HI
#define X	C_BAD
#define B2	C_LEAD2
#define B3	C_LEAD3
#define B4	C_LEAD4

static const uint8_t utf8_class[256] = {
	/* 00..7F */
	A, A, A, A, A, A, A, A, A, A, A, A, A, A, A, A,
	A, A, A, A, A, A, A, A, A, A, A, A, A, A, A, A,
	A, A, A, A, A, A, A, A, A, A, A, A, A, A, A, A,
	A, A, A, A, A, A, A, A, A, A, A, A, A, A, A, A,
	A, A, A, A, A, A, A, A, A, A, A, A, A, A, A, A,
	A, A, A, A, A, A, A, A, A, A, A, A, A, A, A, A,
	A, A, A, A, A, A, A, A, A, A, A, A, A, A, A, A,
	A, A, A, A, A, A, A, A, A, A, A, A, A, A, A, A,
	/* 80..BF */
	L, L, L, L, L, L, L, L, L, L, L, L, L, L, L, L,
	M, M, M, M, M, M, M, M, M, M, M, M, M, M, M, M,
	H, H, H, H, H, H, H, H, H, H, H, H, H, H, H, H,
	H, H, H, H, H, H, H, H, H, H, H, H, H, H, H, H,
	/* C0..DF */
	X, X, B2, B2, B2, B2, B2, B2, B2, B2, B2, B2, B2, B2, B2, B2,
	B2, B2, B2, B2, B2, B2, B2, B2, B2, B2, B2, B2, B2, B2, B2, B2,
	/* E0..EF */
	C_E0, B3, B3, B3, B3, B3, B3, B3, B3, B3, B3, B3, B3, C_ED, B3, B3,
	/* F0..FF */
	C_F0, B4, B4, B4, C_F4, X, X, X, X, X, X, X, X, X, X, X,
};

#undef A
#undef L
#undef M
#undef H
#undef X
#undef B2
#undef B3
#undef B4

#define R	UTF8_REJECT

/* Rows: states; columns: the byte classes in enum order. */
static const uint8_t utf8_next[S_COUNT][C_COUNT] = {
	[UTF8_ACCEPT] = { UTF8_ACCEPT, R, R, R, R,
			  S_NEED1, S_E0, S_NEED2, S_ED, S_F0, S_NEED3, S_F4 },
	[UTF8_REJECT] = { R, R, R, R, R, R, R, R, R, R, R, R },
	[S_NEED1] = { R, UTF8_ACCEPT, UTF8_ACCEPT, UTF8_ACCEPT,
		      R, R, R, R, R, R, R, R },
	[S_NEED2] = { R, S_NEED1, S_NEED1, S_NEED1, R, R, R, R, R, R, R, R },
	[S_E0] = { R, R, R, S_NEED1, R, R, R, R, R, R, R, R },
	[S_ED] = { R, S_NEED1, S_NEED1, R, R, R, R, R, R, R, R, R },
	[S_NEED3] = { R, S_NEED2, S_NEED2, S_NEED2, R, R, R, R, R, R, R, R },
	[S_F0] = { R, R, S_NEED2, S_NEED2, R, R, R, R, R, R, R, R },
	[S_F4] = { R, S_NEED2, R, R, R, R, R, R, R, R, R, R },
};

#undef R

/* Runs the DFA over s from state; stops at the first rejected byte. */
uint32_t
utf8_validate(uint32_t state, const uint8_t *s, size_t len)
{
	size_t	i = 0;

	/* Not a state this DFA hands out: treat as broken input. */
	if (state >= S_COUNT)
		return UTF8_REJECT;
	while (i < len && state != UTF8_REJECT) {
		/* ASCII runs are the common case in text frames. */
		if (state == UTF8_ACCEPT) {
			while (i < len && s[i] < 0x80)
				i++;
			if (i == len)
				break;
		}
		state = utf8_next[state][utf8_class[s[i]]];
		i++;
	}
	return state;
}

/* Checks that s is complete, valid UTF-8. */
int
utf8_valid(const uint8_t *s, size_t len)
{
	return utf8_validate(UTF8_ACCEPT, s, len) == UTF8_ACCEPT;
}
