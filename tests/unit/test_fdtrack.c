/* Descriptor tracking (preload/fdtrack.c), driven the way the close and dup
 * wrappers drive it but without interposition: a cap slot is given back
 * exactly once, when the last number referring to its socket is closed,
 * through close, dup, dup2 over it, a failed call, close_range, or a close
 * backstop never saw; a private descriptor is moved out of the way of a
 * dup2 onto its number. Check runs each test in its own process, so each
 * starts with an empty table. */
#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "preload/fdtrack.h"
#include "preload/runtime.h"
#include "tests/runner/bs_test.h"

/* fdtrack.c asks the preload's runtime for the cap table (and for the
 * log, which it protects); the runner has no preload, so this stands in
 * for preload/runtime.c: a cap table, the log off. */
static struct bs_runtime runtime = { .log = { .fd = -1 } };

struct bs_runtime *_Atomic bs_runtime_ready;

struct bs_runtime *bs_runtime_initialise(void)
{
	if (runtime.caps == NULL)
		runtime.caps = bs_caps_create(16);
	atomic_store(&bs_runtime_ready, &runtime);
	return &runtime;
}

static struct bs_caps *caps(void)
{
	bs_fdtrack_init();
	return bs_runtime()->caps;
}

/* A socket holding a slot of key `rule`; returns the socket, the slot in *slot. */
static int socket_holding(uint32_t rule, uint32_t *slot)
{
	struct bs_cap_request req = { .limit = 8, .key = { .rule = rule, .family = AF_INET } };
	struct bs_cap_outcome out;
	ck_assert_int_eq(bs_cap_acquire(caps(), &req, &out), BS_CAP_ACQUIRED);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	ck_assert_int_ge(fd, 0);
	bs_fdtrack_hold(fd, caps(), out.slot);
	ck_assert(bs_fdtrack_watched(fd));
	*slot = out.slot;
	return fd;
}

/* What preload/close.c does around the real close. */
static void program_close(int fd)
{
	uint32_t taken = bs_fdtrack_take(fd);
	ck_assert_int_eq(close(fd), 0);
	bs_fdtrack_put(taken);
}

/* What preload/dup.c does around the real dup and dup2. */
static int program_dup(int fd)
{
	uint32_t ref = bs_fdtrack_ref(fd);
	int copy = dup(fd);
	ck_assert_int_ge(copy, 0);
	bs_fdtrack_adopt(copy, ref);
	return copy;
}

static void program_dup2(int oldfd, int newfd)
{
	bs_fdtrack_vacate(newfd);
	uint32_t ref = bs_fdtrack_ref(oldfd);
	uint32_t displaced = bs_fdtrack_take(newfd);
	ck_assert_int_eq(dup2(oldfd, newfd), newfd);
	bs_fdtrack_put(displaced);
	bs_fdtrack_adopt(newfd, ref);
}

START_TEST(a_slot_is_released_by_the_last_close_of_its_socket)
{
	uint32_t slot;
	int fd = socket_holding(1, &slot);
	int copy = program_dup(fd);
	int copy2 = program_dup(copy);
	ck_assert(bs_fdtrack_watched(copy) && bs_fdtrack_watched(copy2));
	ck_assert_uint_eq(bs_cap_in_use(caps(), slot), 1);
	program_close(fd);
	ck_assert(!bs_fdtrack_watched(fd));
	program_close(copy2);
	ck_assert_uint_eq(bs_cap_in_use(caps(), slot), 1);
	program_close(copy);
	ck_assert_uint_eq(bs_cap_in_use(caps(), slot), 0);
}
END_TEST

START_TEST(dup2_over_a_tracked_number_releases_what_was_there)
{
	uint32_t a, b;
	int fa = socket_holding(1, &a);
	int fb = socket_holding(2, &b);
	ck_assert_uint_ne(a, b);
	program_dup2(fa, fb);
	ck_assert_uint_eq(bs_cap_in_use(caps(), b), 0);
	ck_assert_uint_eq(bs_cap_in_use(caps(), a), 1);
	program_close(fa);
	ck_assert_uint_eq(bs_cap_in_use(caps(), a), 1); /* fb still refers to it */
	program_close(fb);
	ck_assert_uint_eq(bs_cap_in_use(caps(), a), 0);
}
END_TEST

START_TEST(dup2_onto_itself_changes_nothing)
{
	uint32_t slot;
	int fd = socket_holding(1, &slot);
	/* dup.c skips the bookkeeping for dup2(fd, fd); the count must not
	 * depend on it: a reference taken and given back is no change. */
	bs_fdtrack_put(bs_fdtrack_ref(fd));
	ck_assert_uint_eq(bs_cap_in_use(caps(), slot), 1);
	program_close(fd);
	ck_assert_uint_eq(bs_cap_in_use(caps(), slot), 0);
}
END_TEST

START_TEST(failed_calls_give_their_references_back)
{
	uint32_t slot;
	int fd = socket_holding(1, &slot);
	/* a dup that failed: the reference taken before it is dropped */
	bs_fdtrack_put(bs_fdtrack_ref(fd));
	/* a close or dup2 that did not happen: the entry is put back */
	bs_fdtrack_restore(fd, bs_fdtrack_take(fd));
	ck_assert(bs_fdtrack_watched(fd));
	ck_assert_uint_eq(bs_cap_in_use(caps(), slot), 1);
	program_close(fd);
	ck_assert_uint_eq(bs_cap_in_use(caps(), slot), 0);
}
END_TEST

START_TEST(close_range_releases_what_it_closed_only)
{
	uint32_t a, b;
	int fa = socket_holding(1, &a);
	int fb = socket_holding(1, &b);
	ck_assert_uint_eq(a, b);
	int lo = fa < fb ? fa : fb, hi = fa < fb ? fb : fa;
	/* the call failed: nothing released, both still tracked */
	bs_fdtrack_mark_range((unsigned)lo, (unsigned)hi);
	bs_fdtrack_settle_range((unsigned)lo, (unsigned)hi, false);
	ck_assert(bs_fdtrack_watched(fa) && bs_fdtrack_watched(fb));
	ck_assert_uint_eq(bs_cap_in_use(caps(), a), 2);
	/* the call closed both (closed here one by one, so that no other
	 * descriptor of the runner in between is touched) */
	bs_fdtrack_mark_range((unsigned)lo, (unsigned)hi);
	close(fa);
	close(fb);
	bs_fdtrack_settle_range((unsigned)lo, (unsigned)hi, true);
	ck_assert(!bs_fdtrack_watched(fa) && !bs_fdtrack_watched(fb));
	ck_assert_uint_eq(bs_cap_in_use(caps(), a), 0);
}
END_TEST

START_TEST(a_close_backstop_never_saw_is_reclaimed)
{
	uint32_t slot;
	int fd = socket_holding(1, &slot);
	close(fd); /* as fclose would: no wrapper saw it */
	ck_assert_uint_eq(bs_fdtrack_reclaim(NULL, slot), 1);
	ck_assert_uint_eq(bs_cap_in_use(caps(), slot), 0);
	ck_assert_uint_eq(bs_fdtrack_reclaim(NULL, slot), 0);
	/* the number reused by a new socket: the old socket's slot goes */
	uint32_t a, b;
	int fa = socket_holding(1, &a);
	close(fa);
	int fb = socket_holding(2, &b);
	ck_assert_int_eq(fb, fa); /* the lowest free number again */
	ck_assert_uint_eq(bs_cap_in_use(caps(), a), 0);
	ck_assert_uint_eq(bs_cap_in_use(caps(), b), 1);
	program_close(fb);
	ck_assert_uint_eq(bs_cap_in_use(caps(), b), 0);
}
END_TEST

static int move_up(void *ctx)
{
	int *fd = ctx;
	int moved = fcntl(*fd, F_DUPFD_CLOEXEC, *fd + 1);
	close(*fd);
	*fd = moved;
	return moved;
}

START_TEST(a_private_descriptor_moves_out_of_the_way)
{
	caps();
	int priv = open("/dev/null", O_WRONLY | O_CLOEXEC);
	int old = priv;
	ck_assert_int_gt(priv, 2);
	bs_fdtrack_protect(priv, move_up, &priv);
	ck_assert(bs_fdtrack_watched(old) && bs_fdtrack_is_private(old));
	int found[BS_FDT_MAX_PRIVATE];
	ck_assert_uint_eq(bs_fdtrack_private_in(0, 1u << 20, found, BS_FDT_MAX_PRIVATE), 1);
	ck_assert_int_eq(found[0], old);
	bs_fdtrack_vacate(old); /* a dup2 onto its number is coming */
	ck_assert_int_gt(priv, old);
	ck_assert(!bs_fdtrack_is_private(old) && bs_fdtrack_is_private(priv));
	ck_assert(!bs_fdtrack_watched(old));
	ck_assert_uint_eq(bs_fdtrack_private_in(0, 1u << 20, found, BS_FDT_MAX_PRIVATE), 1);
	ck_assert_int_eq(found[0], priv);
	/* the moved descriptor is still open, the old number free */
	ck_assert_int_ge(fcntl(priv, F_GETFD), 0);
	ck_assert_int_lt(fcntl(old, F_GETFD), 0);
}
END_TEST

BS_SUITE(fdtrack_suite)
{
	Suite *s = suite_create("fdtrack");
	TCase *tc = tcase_create("fdtrack");
	tcase_add_test(tc, a_slot_is_released_by_the_last_close_of_its_socket);
	tcase_add_test(tc, dup2_over_a_tracked_number_releases_what_was_there);
	tcase_add_test(tc, dup2_onto_itself_changes_nothing);
	tcase_add_test(tc, failed_calls_give_their_references_back);
	tcase_add_test(tc, close_range_releases_what_it_closed_only);
	tcase_add_test(tc, a_close_backstop_never_saw_is_reclaimed);
	tcase_add_test(tc, a_private_descriptor_moves_out_of_the_way);
	suite_add_tcase(s, tc);
	return s;
}
