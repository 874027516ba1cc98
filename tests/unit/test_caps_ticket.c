/* Queued cap waiters that do not block (bs_cap_ticket, for asynchronous
 * connects): FIFO with blocking waiters' rules, expiry at the deadline,
 * cancellation passing a granted slot on, and the queues a forked child
 * drops. A fake clock decides expiry. */
#include <string.h>
#include <sys/socket.h>

#include "engine/caps.h"
#include "tests/runner/bs_test.h"

#define T0 (1000 * BS_SEC)

static bs_ns fake_now;

static bs_ns fake_clock(void *ctx)
{
	(void)ctx;
	return fake_now;
}

static struct bs_caps *table(void)
{
	struct bs_caps *caps = bs_caps_create(16);
	ck_assert_ptr_nonnull(caps);
	fake_now = T0;
	bs_caps_set_clock(caps, fake_clock, NULL);
	return caps;
}

static struct bs_cap_request req(struct bs_cap_ticket *t, bs_ns deadline_at)
{
	struct bs_cap_request r = { .limit = 1, .wait = true, .deadline_at = deadline_at,
				    .ticket = t };
	r.key.rule = 1;
	r.key.family = AF_INET;
	return r;
}

static uint32_t take(struct bs_caps *caps)
{
	struct bs_cap_request r = req(NULL, 0);
	r.wait = false;
	struct bs_cap_outcome out;
	ck_assert_int_eq(bs_cap_acquire(caps, &r, &out), BS_CAP_ACQUIRED);
	return out.slot;
}

static enum bs_cap_status queue(struct bs_caps *caps, struct bs_cap_ticket *t, bs_ns deadline_at)
{
	memset(t, 0, sizeof *t);
	struct bs_cap_request r = req(t, deadline_at);
	struct bs_cap_outcome out;
	return bs_cap_acquire(caps, &r, &out);
}

static enum bs_cap_status poll_ticket(struct bs_caps *caps, struct bs_cap_ticket *t,
				      uint32_t *slot)
{
	struct bs_cap_outcome out;
	enum bs_cap_status st = bs_cap_ticket_poll(caps, t, fake_now, &out);
	*slot = out.slot;
	return st;
}

START_TEST(free_slot_is_taken_without_queueing)
{
	struct bs_caps *caps = table();
	struct bs_cap_ticket t;
	ck_assert_int_eq(queue(caps, &t, T0 + BS_SEC), BS_CAP_ACQUIRED);
	bs_caps_destroy(caps);
}
END_TEST

START_TEST(released_slot_goes_to_the_oldest_ticket)
{
	struct bs_caps *caps = table();
	uint32_t held = take(caps), slot;
	struct bs_cap_ticket a, b;
	ck_assert_int_eq(queue(caps, &a, T0 + BS_SEC), BS_CAP_QUEUED);
	ck_assert_int_eq(queue(caps, &b, T0 + BS_SEC), BS_CAP_QUEUED);
	ck_assert_uint_eq(bs_cap_queued(caps, held), 2);
	ck_assert_int_eq(poll_ticket(caps, &a, &slot), BS_CAP_QUEUED);
	bs_cap_release(caps, held);
	ck_assert_int_eq(poll_ticket(caps, &b, &slot), BS_CAP_QUEUED);
	ck_assert_int_eq(poll_ticket(caps, &a, &slot), BS_CAP_WAITED);
	ck_assert_uint_eq(slot, held);
	ck_assert_uint_eq(bs_cap_in_use(caps, held), 1); /* handed over, not freed */
	bs_cap_release(caps, slot);
	ck_assert_int_eq(poll_ticket(caps, &b, &slot), BS_CAP_WAITED);
	bs_caps_destroy(caps);
}
END_TEST

START_TEST(expired_ticket_times_out_and_is_passed_by)
{
	struct bs_caps *caps = table();
	uint32_t held = take(caps), slot;
	struct bs_cap_ticket a, b;
	ck_assert_int_eq(queue(caps, &a, T0 + 10 * BS_MS), BS_CAP_QUEUED);
	ck_assert_int_eq(queue(caps, &b, T0 + BS_SEC), BS_CAP_QUEUED);
	fake_now = T0 + 20 * BS_MS;
	/* A release skips the expired ticket: the live one gets the slot. */
	bs_cap_release(caps, held);
	ck_assert_int_eq(poll_ticket(caps, &a, &slot), BS_CAP_TIMEOUT);
	ck_assert_int_eq(poll_ticket(caps, &b, &slot), BS_CAP_WAITED);
	bs_caps_destroy(caps);
}
END_TEST

START_TEST(ticket_polled_past_its_deadline_leaves_the_queue)
{
	struct bs_caps *caps = table();
	uint32_t held = take(caps), slot;
	struct bs_cap_ticket a;
	ck_assert_int_eq(queue(caps, &a, T0 + 10 * BS_MS), BS_CAP_QUEUED);
	fake_now = T0 + 10 * BS_MS;
	ck_assert_int_eq(poll_ticket(caps, &a, &slot), BS_CAP_TIMEOUT);
	ck_assert_uint_eq(bs_cap_queued(caps, held), 0);
	bs_caps_destroy(caps);
}
END_TEST

START_TEST(cancel_passes_a_granted_slot_on)
{
	struct bs_caps *caps = table();
	uint32_t held = take(caps), slot;
	struct bs_cap_ticket a, b;
	ck_assert_int_eq(queue(caps, &a, T0 + BS_SEC), BS_CAP_QUEUED);
	ck_assert_int_eq(queue(caps, &b, T0 + BS_SEC), BS_CAP_QUEUED);
	bs_cap_release(caps, held);     /* granted to a ... */
	bs_cap_ticket_cancel(caps, &a); /* ... whose socket was closed */
	ck_assert_int_eq(poll_ticket(caps, &b, &slot), BS_CAP_WAITED);
	bs_cap_ticket_cancel(caps, &b); /* settled: changes nothing */
	ck_assert_uint_eq(bs_cap_in_use(caps, slot), 1);
	bs_caps_destroy(caps);
}
END_TEST

START_TEST(forked_child_times_out_parent_tickets)
{
	struct bs_caps *caps = table();
	uint32_t slot;
	take(caps);
	struct bs_cap_ticket a;
	ck_assert_int_eq(queue(caps, &a, T0 + BS_SEC), BS_CAP_QUEUED);
	bs_caps_after_fork_child(caps);
	ck_assert_int_eq(poll_ticket(caps, &a, &slot), BS_CAP_TIMEOUT);
	bs_cap_ticket_cancel(caps, &a); /* must not touch the dropped queue */
	bs_caps_destroy(caps);
}
END_TEST

BS_SUITE(caps_ticket_suite)
{
	Suite *s = suite_create("caps_ticket");
	TCase *tc = tcase_create("ticket");
	tcase_add_test(tc, free_slot_is_taken_without_queueing);
	tcase_add_test(tc, released_slot_goes_to_the_oldest_ticket);
	tcase_add_test(tc, expired_ticket_times_out_and_is_passed_by);
	tcase_add_test(tc, ticket_polled_past_its_deadline_leaves_the_queue);
	tcase_add_test(tc, cancel_passes_a_granted_slot_on);
	tcase_add_test(tc, forked_child_times_out_parent_tickets);
	suite_add_tcase(s, tc);
	return s;
}
