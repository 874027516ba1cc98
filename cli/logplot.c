/* A hand-written SVG timeline: one lane per destination, time on x, one
 * marker shape and colour per event kind, a legend and labelled axes. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/logplot.h"

enum kind { K_RETRY, K_OK, K_GIVEUP, K_SHED, K_CAP_TIMEOUT, K_CAP_REJECT, N_KINDS };

static const struct {
	const char *event, *label, *colour;
} kinds[N_KINDS] = {
	[K_RETRY] = { "connect.retry", "retry", "#1f77b4" },
	[K_OK] = { "connect.ok", "ok after retry/wait", "#2ca02c" },
	[K_GIVEUP] = { "connect.giveup", "give-up", "#d62728" },
	[K_SHED] = { "accept.shed", "shed", "#ff7f0e" },
	[K_CAP_TIMEOUT] = { "cap.timeout", "cap timeout", "#9467bd" },
	[K_CAP_REJECT] = { "cap.reject", "cap reject", "#8c564b" },
};

struct mark {
	double t;
	enum kind kind;
};

struct lane {
	char *name;
	struct mark *marks;
	size_t n, cap;
	size_t counts[N_KINDS];
};

struct logplot {
	struct lane *lanes;
	size_t n, cap;
	double t0, t1;
	size_t total;
};

/* Geometry, in SVG user units. */
enum { WIDTH = 1000, LEFT = 230, RIGHT = 30, TOP = 60, LANE_H = 44, AXIS_H = 50,
       LEGEND_H = 40 };

struct logplot *logplot_new(void)
{
	return calloc(1, sizeof(struct logplot));
}

static struct lane *find_lane(struct logplot *plot, const char *name)
{
	for (size_t i = 0; i < plot->n; i++)
		if (strcmp(plot->lanes[i].name, name) == 0)
			return &plot->lanes[i];
	if (plot->n == plot->cap) {
		size_t cap = plot->cap ? plot->cap * 2 : 8;
		struct lane *v = realloc(plot->lanes, cap * sizeof *v);
		if (!v)
			return NULL;
		plot->lanes = v;
		plot->cap = cap;
	}
	struct lane *lane = &plot->lanes[plot->n];
	*lane = (struct lane){ .name = strdup(name) };
	if (!lane->name)
		return NULL;
	plot->n++;
	return lane;
}

int logplot_add(struct logplot *plot, const struct log_event *ev)
{
	enum kind k = 0;
	while (k < N_KINDS && strcmp(ev->event, kinds[k].event) != 0)
		k++;
	if (k == N_KINDS)
		return 0;
	char name[512];
	log_event_key(ev, LOG_BY_DEST, name, sizeof name);
	struct lane *lane = find_lane(plot, name);
	if (!lane)
		return -1;
	if (lane->n == lane->cap) {
		size_t cap = lane->cap ? lane->cap * 2 : 32;
		struct mark *v = realloc(lane->marks, cap * sizeof *v);
		if (!v)
			return -1;
		lane->marks = v;
		lane->cap = cap;
	}
	lane->marks[lane->n++] = (struct mark){ ev->ts, k };
	lane->counts[k]++;
	if (plot->total == 0 || ev->ts < plot->t0)
		plot->t0 = ev->ts;
	if (plot->total == 0 || ev->ts > plot->t1)
		plot->t1 = ev->ts;
	plot->total++;
	return 0;
}

/* Text made safe inside an SVG element. */
static void put_escaped(FILE *out, const char *s)
{
	for (; *s; s++) {
		switch (*s) {
		case '<': fputs("&lt;", out); break;
		case '>': fputs("&gt;", out); break;
		case '&': fputs("&amp;", out); break;
		case '"': fputs("&quot;", out); break;
		default:
			if ((unsigned char)*s >= 0x20)
				fputc(*s, out);
		}
	}
}

/* A lane name that fits the margin: long ones keep their end, which is
 * the distinctive part of a path or the port of an address. */
static void put_label(FILE *out, const char *name)
{
	enum { MAX = 32 };
	size_t len = strlen(name);
	if (len > MAX) {
		fputs("\u2026", out);
		name += len - (MAX - 1);
	}
	put_escaped(out, name);
}

static void marker(FILE *out, enum kind k, double x, double y)
{
	const char *c = kinds[k].colour;
	switch (k) {
	case K_RETRY:
		fprintf(out, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"4\" fill=\"%s\" "
			     "fill-opacity=\"0.55\"/>\n", x, y, c);
		break;
	case K_OK:
		fprintf(out, "<path d=\"M%.1f %.1fl3.5 4l6-9\" stroke=\"%s\" stroke-width=\"2.5\" "
			     "fill=\"none\"/>\n", x - 4, y, c);
		break;
	case K_GIVEUP:
		fprintf(out, "<path d=\"M%.1f %.1fl10 10m0 -10l-10 10\" stroke=\"%s\" "
			     "stroke-width=\"3\"/>\n", x - 5, y - 5, c);
		break;
	case K_SHED:
		fprintf(out, "<path d=\"M%.1f %.1fl6 10h-12z\" fill=\"%s\"/>\n", x, y - 6, c);
		break;
	case K_CAP_TIMEOUT:
		fprintf(out, "<rect x=\"%.1f\" y=\"%.1f\" width=\"9\" height=\"9\" fill=\"%s\"/>\n",
			x - 4.5, y - 4.5, c);
		break;
	case K_CAP_REJECT:
		fprintf(out, "<path d=\"M%.1f %.1fl6 6l-6 6l-6 -6z\" fill=\"%s\"/>\n", x, y - 6, c);
		break;
	case N_KINDS:
		break;
	}
}

/* A tick step from 1-2-5 series (in seconds) giving about 8 ticks. */
static double tick_step(double span)
{
	static const double steps[] = { 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2,
					0.5, 1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900,
					1800, 3600, 7200, 10800, 21600, 43200, 86400 };
	for (size_t i = 0; i < sizeof steps / sizeof steps[0]; i++)
		if (span / steps[i] <= 8)
			return steps[i];
	return 86400 * ceil(span / 86400 / 8);
}

static void tick_label(char *buf, size_t cap, double t, double step)
{
	time_t sec = (time_t)floor(t);
	struct tm tm;
	gmtime_r(&sec, &tm);
	char hms[16];
	strftime(hms, sizeof hms, "%H:%M:%S", &tm);
	if (step < 1)
		snprintf(buf, cap, "%s.%03d", hms, (int)((t - (double)sec) * 1000 + 0.5) % 1000);
	else
		snprintf(buf, cap, "%s", hms);
}

static void write_axis(FILE *out, double t0, double span, double y)
{
	double plot_w = WIDTH - LEFT - RIGHT, step = tick_step(span);
	fprintf(out, "<line x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\" stroke=\"#333\"/>\n",
		LEFT, y, WIDTH - RIGHT, y);
	for (double t = ceil(t0 / step) * step; t <= t0 + span + step * 1e-9; t += step) {
		double x = LEFT + (t - t0) / span * plot_w;
		char label[32];
		tick_label(label, sizeof label, t, step);
		fprintf(out, "<line x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#ddd\"/>\n",
			x, TOP, x, y);
		fprintf(out, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#333\"/>\n",
			x, y, x, y + 5);
		fprintf(out, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\" "
			     "font-size=\"11\">%s</text>\n", x, y + 18, label);
	}
	char day[32];
	time_t sec = (time_t)floor(t0);
	struct tm tm;
	gmtime_r(&sec, &tm);
	strftime(day, sizeof day, "%Y-%m-%d", &tm);
	fprintf(out, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\" font-size=\"12\">"
		     "time (UTC, %s)</text>\n", LEFT + plot_w / 2, y + 38, day);
}

static void write_legend(FILE *out, const struct logplot *plot, double y)
{
	double x = 12;
	for (enum kind k = 0; k < N_KINDS; k++) {
		size_t n = 0;
		for (size_t i = 0; i < plot->n; i++)
			n += plot->lanes[i].counts[k];
		char text[64];
		int len = snprintf(text, sizeof text, "%s (%zu)", kinds[k].label, n);
		marker(out, k, x, y);
		fprintf(out, "<text x=\"%.1f\" y=\"%.1f\" font-size=\"12\">%s</text>\n",
			x + 10, y + 4, text);
		x += 34 + 6.8 * len; /* about the width of 12px sans-serif text */
	}
}

int logplot_write(const struct logplot *plot, const char *path)
{
	FILE *out = fopen(path, "w");
	if (!out) {
		fprintf(stderr, "backstop log: %s: %s\n", path, strerror(errno));
		return -1;
	}
	size_t lanes = plot->n ? plot->n : 1;
	double axis_y = TOP + (double)lanes * LANE_H;
	int height = (int)axis_y + AXIS_H + LEGEND_H;
	/* A margin of 3% keeps edge markers off the frame; a single instant
	 * still gets a visible span, centred. */
	double raw = plot->t1 - plot->t0 > 0.001 ? plot->t1 - plot->t0 : 1.0;
	double span = raw * 1.06;
	double t0 = plot->t0 - (span - (plot->t1 - plot->t0)) / 2;
	double plot_w = WIDTH - LEFT - RIGHT;

	fprintf(out, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
		     "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
		     "viewBox=\"0 0 %d %d\" font-family=\"sans-serif\">\n"
		     "<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n",
		WIDTH, height, WIDTH, height);
	fprintf(out, "<text x=\"%d\" y=\"28\" font-size=\"16\" font-weight=\"bold\">"
		     "backstop timeline: %zu events on %zu destination%s</text>\n",
		LEFT, plot->total, plot->n, plot->n == 1 ? "" : "s");
	fprintf(out, "<text x=\"12\" y=\"%d\" font-size=\"12\" font-weight=\"bold\">"
		     "destination</text>\n", TOP - 8);
	for (size_t i = 0; i < plot->n; i++) {
		const struct lane *lane = &plot->lanes[i];
		double top = TOP + (double)i * LANE_H, mid = top + LANE_H / 2.0;
		fprintf(out, "<g class=\"lane\" data-dest=\"");
		put_escaped(out, lane->name);
		fprintf(out, "\">\n<rect x=\"%d\" y=\"%.1f\" width=\"%.1f\" height=\"%d\" "
			     "fill=\"%s\"/>\n",
			LEFT, top, plot_w, LANE_H, i % 2 ? "#ffffff" : "#f3f5f8");
		fprintf(out, "<text x=\"12\" y=\"%.1f\" font-size=\"12\">", mid - 2);
		put_label(out, lane->name);
		fprintf(out, "</text>\n<text x=\"12\" y=\"%.1f\" font-size=\"10\" "
			     "fill=\"#666\">%zu retries, %zu give-ups, %zu sheds</text>\n",
			mid + 12, lane->counts[K_RETRY], lane->counts[K_GIVEUP],
			lane->counts[K_SHED]);
		for (size_t m = 0; m < lane->n; m++)
			marker(out, lane->marks[m].kind,
			       LEFT + (lane->marks[m].t - t0) / span * plot_w, mid);
		fprintf(out, "</g>\n");
	}
	if (plot->n == 0)
		fprintf(out, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\" font-size=\"13\">"
			     "no retries, give-ups, sheds or cap events in this log</text>\n",
			LEFT + plot_w / 2, TOP + LANE_H / 2.0);
	write_axis(out, t0, span, axis_y);
	write_legend(out, plot, axis_y + AXIS_H + 18);
	fprintf(out, "</svg>\n");
	if (fclose(out) != 0) {
		fprintf(stderr, "backstop log: %s: %s\n", path, strerror(errno));
		return -1;
	}
	return 0;
}

void logplot_free(struct logplot *plot)
{
	for (size_t i = 0; plot && i < plot->n; i++) {
		free(plot->lanes[i].name);
		free(plot->lanes[i].marks);
	}
	if (plot)
		free(plot->lanes);
	free(plot);
}
