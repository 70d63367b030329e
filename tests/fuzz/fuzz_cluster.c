/*
 * fuzz_cluster.c -- libFuzzer target for the envelope of the messages
 * nodes exchange through Redis (cluster_env.c): the input is what another
 * publisher may put on a cluster channel. A decoded envelope's parts lie
 * inside the input and add up to it; its header written again from its
 * fields is the input's header; a number parses only from digits; a
 * channel stream entry's parts lie inside the rest, its id a stream id.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cluster_env.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cluster_env	 env;
	struct cluster_env_stream st;
	uint8_t			 hdr[CLUSTER_ENV_HDR_MAX];
	char			 id[CLUSTER_ENV_ID_MAX + 1];
	long long		 n;
	size_t			 h;

	if (cluster_env_decode(data, size, &env) == -1)
		return 0;
	FUZZ_CHECK(env.id >= (const char *)data && env.id_len > 0 &&
	    env.id + env.id_len <= (const char *)data + size);
	FUZZ_CHECK(env.data >= data && env.data + env.len == data + size);
	FUZZ_CHECK(env.sse_len == 0 || (env.sse >= data &&
	    env.sse + env.sse_len <= env.data));
	/* An id with a NUL cannot be written again: ours never have one. */
	if (memchr(env.id, '\0', env.id_len) == NULL) {
		memcpy(id, env.id, env.id_len);
		id[env.id_len] = '\0';
		h = cluster_env_header(hdr, env.kind, id, env.opcode, env.key,
		    env.sse_len);
		FUZZ_CHECK(h > 0 && h <= size);
		FUZZ_CHECK(memcmp(hdr, data, h) == 0);
	}
	if (cluster_env_number(&env, &n) == 0) {
		FUZZ_CHECK((env.kind == CLUSTER_ENV_VALUE ||
		    env.kind == CLUSTER_ENV_USERS) && env.len > 0);
		FUZZ_CHECK(env.data[0] == '-' ||
		    (env.data[0] >= '0' && env.data[0] <= '9'));
	}
	if (cluster_env_stream(&env, &st) == 0) {
		FUZZ_CHECK(env.kind == CLUSTER_ENV_STREAM);
		FUZZ_CHECK(cluster_env_sid_valid(st.id, strlen(st.id)));
		FUZZ_CHECK(st.data >= env.data &&
		    st.data + st.len == env.data + env.len);
		FUZZ_CHECK(memcmp(env.data, st.id, strlen(st.id)) == 0 &&
		    env.data[strlen(st.id)] == '\n' &&
		    env.data[strlen(st.id) + 1] == st.kind);
	}
	return 0;
}
