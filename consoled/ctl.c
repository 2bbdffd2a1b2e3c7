/* pvd-consoled's "stats" answer on its control socket (common/ctl.c,
 * $PVD_RUNDIR/pvd-consoled.sock): per console the counters its Prometheus
 * families carry (metrics.c, from console_stats), plus its pty, what its
 * log took and a state word.  Built with jansson; the shape is stable
 * (docs/pvd-consoled.md "Control socket"). */
#include <stdint.h>
#include <stdio.h>

#include <jansson.h>

#include "pvd/ctl.h"
#include "console.h"
#include "ctl.h"
#include "tracker.h"

/* Counters past a signed 64-bit integer saturate (jansson's json_int_t). */
static json_t *counter(uint64_t v)
{
	return json_integer(v > INT64_MAX ? INT64_MAX : (json_int_t)v);
}

static const char *state_name(const struct console_stats *st)
{
	if (st->broken)
		return "broken";
	if (st->rate_blocked)
		return "rate-limited";
	return "connected";
}

static void add_console(void *arg, const struct console *c)
{
	json_t *arr = arg, *o;
	struct console_stats st;
	char id[12];

	console_stats(c, &st);
	if (console_devid(c) < 0)
		snprintf(id, sizeof(id), "primary");
	else
		snprintf(id, sizeof(id), "%d", console_devid(c));
	o = json_pack("{sI ss ss so so so sI so so ss sb}",
		      "domid", (json_int_t)console_domid(c), "console", id,
		      "tty", console_tty(c), "out_bytes", counter(st.out_bytes),
		      "in_bytes", counter(st.in_bytes), "dropped", counter(st.dropped),
		      "buffered", (json_int_t)st.buffered,
		      "rate_stalls", counter(st.rate_stalls),
		      "log_bytes", counter(st.log_bytes), "state", state_name(&st),
		      "input_blocked", st.input_blocked);
	/* Short of memory: a console missing from the answer, no failure. */
	json_array_append_new(arr, o);
}

json_t *consoled_ctl_stats_json(const struct tracker *tr)
{
	json_t *arr = json_array();

	if (!arr)
		return NULL;
	tracker_each(tr, add_console, arr);
	return json_pack("{so}", "consoles", arr);
}

void consoled_ctl_stats(struct evbuffer *out, void *tracker)
{
	pvd_ctl_put_json(out, consoled_ctl_stats_json(tracker));
}
