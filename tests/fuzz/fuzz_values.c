/* The value parsers of policy/values.h (and the lookup error lists of
 * policy/eainames.h). The first byte picks the parser,
 * the rest is the value text. What parses must print back in a form that
 * parses to the same value (durations, jitter, patterns); what fails must
 * say why. */
#include "policy/eainames.h"
#include "policy/values.h"
#include "tests/fuzz/fuzz.h"

static void check_pattern_round_trip(const struct bs_pattern *p)
{
	char text[512], why[BS_WHY_MAX];
	struct bs_pattern again;
	bs_format_pattern(text, sizeof text, p);
	FUZZ_ASSERT(bs_parse_pattern(text, &again, why, sizeof why) == 0);
	FUZZ_ASSERT(again.family == p->family && again.prefix == p->prefix &&
		    again.port == p->port &&
		    memcmp(again.addr, p->addr, sizeof p->addr) == 0);
	FUZZ_ASSERT((again.glob == NULL) == (p->glob == NULL));
	FUZZ_ASSERT(!p->glob || strcmp(again.glob, p->glob) == 0);
	free(again.glob);
}

static int parse_one(unsigned which, const char *s, char *why, size_t cap)
{
	union {
		bs_ns ns;
		uint64_t u;
		double d;
		bool b;
		uint32_t pct;
		struct bs_jitter j;
		struct bs_errset set;
		struct bs_pattern pat;
		struct bs_global g;
	} v;
	memset(&v, 0, sizeof v);
	char text[128];
	int rc = -1;
	switch (which) {
	case 0:
		if ((rc = bs_parse_duration(s, &v.ns, why, cap)) == 0) {
			bs_ns again;
			bs_format_duration(text, sizeof text, v.ns);
			FUZZ_ASSERT(bs_parse_duration(text, &again, why, cap) == 0);
			FUZZ_ASSERT(again == v.ns);
		}
		return rc;
	case 1:
		return bs_parse_uint(s, 1, 1000000, &v.u, why, cap);
	case 2:
		return bs_parse_factor(s, &v.d, why, cap);
	case 3:
		return bs_parse_bool(s, &v.b, why, cap);
	case 4:
		return bs_parse_percent(s, &v.pct, why, cap);
	case 5:
	case 6:
		if ((rc = bs_parse_jitter(s, which == 6, &v.j, why, cap)) == 0) {
			struct bs_jitter again;
			bs_format_jitter(text, sizeof text, &v.j);
			FUZZ_ASSERT(bs_parse_jitter(text, which == 6, &again, why, cap) == 0);
			FUZZ_ASSERT(again.kind == v.j.kind && again.percent == v.j.percent);
		}
		return rc;
	case 7:
		return bs_parse_errnames(s, &v.set, why, cap);
	case 8:
		if ((rc = bs_parse_pattern(s, &v.pat, why, cap)) == 0) {
			check_pattern_round_trip(&v.pat);
			free(v.pat.glob);
		}
		return rc;
	case 9: {
		struct bs_pattern *list = NULL;
		size_t n = 0;
		rc = bs_parse_patterns(s, &list, &n, why, cap);
		for (size_t i = 0; rc == 0 && i < n; i++)
			check_pattern_round_trip(&list[i]);
		bs_patterns_free(list, n);
		return rc;
	}
	case 11: {
		bs_eaiset set, again;
		if ((rc = bs_parse_eainames(s, &set, why, cap)) == 0) {
			char list[256];
			bs_format_eaiset(list, sizeof list, set);
			FUZZ_ASSERT(bs_parse_eainames(list, &again, why, cap) == 0 && again == set);
		}
		return rc;
	}
	default:
		rc = bs_parse_log(s, &v.g, why, cap);
		free(v.g.log_path);
		return rc;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size == 0)
		return 0;
	char *s = fuzz_cstr(data + 1, size - 1);
	char why[BS_WHY_MAX] = "";
	if (parse_one(data[0] % 12, s, why, sizeof why) != 0)
		FUZZ_ASSERT(why[0] != '\0' && memchr(why, '\0', sizeof why));
	free(s);
	return 0;
}
