/* pvguest's frontend plug (tools/pvguest/frontend.c): probe, changed and
 * remove driven by the toolstack's writes under device/<type>/<id>, with
 * fake frontends, over the ring to pvd-stored's real core
 * (pvguest_fakestore.h). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../../tools/pvguest/xs_ring.h"
#include "../../tools/pvguest/xenbus_xs.h"
#include "../../tools/pvguest/frontend.h"
#include "../../tools/pvguest/gntalloc.h"
#include "../../tools/pvguest/nbd.h"
#include "../../tools/pvguest/blkfront.h"
#include "pvguest_fakestore.h"
#include "pvd/log.h"

#define GUEST 5
#define ROUNDS 60

struct fake {
	unsigned probes, removes, changes;
	char last_probe[64], last_remove[64], last_changed[128];
	int probe_rc;
};

struct fx {
	struct event_base *base;
	struct xenstore_domain_interface *intf;
	struct fakestore fs;
	struct xenbus *xb;
	struct frontends *fe;
	struct fake vbd, vif;
};

/* The fakes find their counters through env->guest (opaque here). */
static struct fake *fake_of(const struct frontend_env *env,
			    const struct frontend_dev *dev)
{
	struct fx *f = (struct fx *)env->guest;

	return strcmp(dev->type, "vbd") == 0 ? &f->vbd : &f->vif;
}

static int fake_probe(const struct frontend_env *env, struct frontend_dev *dev)
{
	struct fake *k = fake_of(env, dev);

	k->probes++;
	snprintf(k->last_probe, sizeof(k->last_probe), "%s", dev->nodename);
	if (k->probe_rc == 0)
		dev->priv = k;
	return k->probe_rc;
}

static void fake_remove(const struct frontend_env *env, struct frontend_dev *dev)
{
	struct fake *k = fake_of(env, dev);

	assert_ptr_equal(dev->priv, k);
	k->removes++;
	snprintf(k->last_remove, sizeof(k->last_remove), "%s", dev->nodename);
}

static void fake_changed(const struct frontend_env *env, struct frontend_dev *dev,
			 const char *path)
{
	struct fake *k = fake_of(env, dev);

	k->changes++;
	snprintf(k->last_changed, sizeof(k->last_changed), "%s", path);
}

static const struct frontend_ops vbd_ops = {
	.type = "vbd", .probe = fake_probe, .remove = fake_remove,
	.changed = fake_changed,
};
static const struct frontend_ops vif_ops = {
	.type = "vif", .probe = fake_probe, .remove = fake_remove,
};
static const struct frontend_ops *const table[] = { &vbd_ops, &vif_ops };

static void notify(void *arg) { }

static void turn(struct fx *f)
{
	event_base_loop(f->base, EVLOOP_NONBLOCK);
	fakestore_pump(&f->fs);
	xenbus_kick(f->xb);
}

static void settle(struct fx *f)
{
	for (int i = 0; i < ROUNDS; i++)
		turn(f);
}

static void start_fe(struct fx *f, const struct frontend_ops *const *t, unsigned n)
{
	struct frontend_env env = {
		.base = f->base, .xb = f->xb, .guest = (struct guest *)f,
		.domid = GUEST,
	};

	assert_int_equal(frontend_start(&f->fe, &env, t, n), 0);
	settle(f);
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	f->base = event_base_new();
	f->intf = calloc(1, sizeof(*f->intf));
	fakestore_init(&f->fs, f->base, GUEST, f->intf);
	assert_int_equal(xenbus_create(&f->xb, f->base, f->intf, notify, f), 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	frontend_stop(f->fe);
	xenbus_destroy(f->xb);
	fakestore_fini(&f->fs);
	event_base_free(f->base);
	free(f->intf);
	free(f);
	return 0;
}

static void d0_write(struct fx *f, const char *path, const char *val)
{
	assert_int_equal(fakestore_dom0(&f->fs, XS_WRITE, 2, path, val), XS_WRITE);
}

static void d0_rm(struct fx *f, const char *path)
{
	assert_int_equal(fakestore_dom0(&f->fs, XS_RM, 1, path), XS_RM);
}

static void test_builtin_is_vbd(void **state)
{
	struct fx *f = *state;
	const struct frontend_ops *const *t;
	unsigned n = 99;

	t = frontend_builtin(&n);
	assert_non_null(t);
	assert_int_equal(n, 2);
	assert_string_equal(t[0]->type, "vbd");
	assert_string_equal(t[1]->type, "vif");
	start_fe(f, t, n);
	assert_int_equal(f->fs.guest->c->nwatches, 1);
	assert_int_equal(xenbus_pending(f->xb), 0);
}

static void test_no_frontends_watch_nothing(void **state)
{
	struct fx *f = *state;

	start_fe(f, table, 0);
	assert_int_equal(f->fs.guest->c->nwatches, 0);
	assert_int_equal(xenbus_pending(f->xb), 0);
}

static void test_existing_devices_probed_at_start(void **state)
{
	struct fx *f = *state;

	d0_write(f, "/local/domain/5/device/vbd/51712/state", "1");
	d0_write(f, "/local/domain/5/device/vbd/51728/state", "1");
	d0_write(f, "/local/domain/5/device/vkbd/0/state", "1");	/* no ops */
	start_fe(f, table, 2);
	assert_int_equal(f->fs.guest->c->nwatches, 1);
	assert_int_equal(f->vbd.probes, 2);
	assert_int_equal(f->vif.probes, 0);
	assert_non_null(frontend_find(f->fe, "vbd", "51712"));
	assert_non_null(frontend_find(f->fe, "vbd", "51728"));
	assert_null(frontend_find(f->fe, "vkbd", "0"));
}

static void test_probe_changed_remove(void **state)
{
	struct fx *f = *state;
	struct frontend_dev *d;

	start_fe(f, table, 2);
	assert_int_equal(f->vbd.probes, 0);
	/* The toolstack writes a device's nodes; the first deep write makes
	 * the device appear. */
	d0_write(f, "/local/domain/5/device/vbd/768/backend", "/local/domain/0/backend/vbd/5/768");
	d0_write(f, "/local/domain/5/device/vbd/768/state", "1");
	settle(f);
	assert_int_equal(f->vbd.probes, 1);
	assert_string_equal(f->vbd.last_probe, "device/vbd/768");
	d = frontend_find(f->fe, "vbd", "768");
	assert_non_null(d);
	assert_true(d->probed);
	assert_string_equal(d->id, "768");

	/* Later writes below it: changed, no second probe. */
	d0_write(f, "/local/domain/5/device/vbd/768/state", "3");
	settle(f);
	assert_int_equal(f->vbd.probes, 1);
	assert_true(f->vbd.changes >= 1);
	assert_string_equal(f->vbd.last_changed, "device/vbd/768/state");

	/* Another type and another device. */
	d0_write(f, "/local/domain/5/device/vif/0/mac", "00:16:3e:00:00:01");
	settle(f);
	assert_int_equal(f->vif.probes, 1);
	assert_string_equal(f->vif.last_probe, "device/vif/0");

	d0_rm(f, "/local/domain/5/device/vbd/768");
	settle(f);
	assert_int_equal(f->vbd.removes, 1);
	assert_string_equal(f->vbd.last_remove, "device/vbd/768");
	assert_null(frontend_find(f->fe, "vbd", "768"));
	assert_int_equal(f->vif.removes, 0);

	/* The whole device directory goes. */
	d0_rm(f, "/local/domain/5/device");
	settle(f);
	assert_int_equal(f->vif.removes, 1);
}

static void test_probe_failure(void **state)
{
	struct fx *f = *state;

	f->vbd.probe_rc = -EINVAL;
	start_fe(f, table, 2);
	d0_write(f, "/local/domain/5/device/vbd/1/state", "1");
	settle(f);
	assert_int_equal(f->vbd.probes, 1);
	assert_false(frontend_find(f->fe, "vbd", "1")->probed);
	/* Not retried on every change, nor told about them. */
	d0_write(f, "/local/domain/5/device/vbd/1/state", "2");
	settle(f);
	assert_int_equal(f->vbd.probes, 1);
	assert_int_equal(f->vbd.changes, 0);
	/* Nor removed (it never was set up). */
	d0_rm(f, "/local/domain/5/device/vbd/1");
	settle(f);
	assert_int_equal(f->vbd.removes, 0);
	/* Back again: probed again. */
	f->vbd.probe_rc = 0;
	d0_write(f, "/local/domain/5/device/vbd/1/state", "1");
	settle(f);
	assert_int_equal(f->vbd.probes, 2);
	assert_true(frontend_find(f->fe, "vbd", "1")->probed);
}

static void test_bad_ids_ignored(void **state)
{
	struct fx *f = *state;

	start_fe(f, table, 2);
	d0_write(f, "/local/domain/5/device/vbd/0123456789abcdefXYZ/state", "1");
	d0_write(f, "/local/domain/5/device/vbd/a@b/state", "1");
	d0_write(f, "/local/domain/5/device/vbd/ok_1/state", "1");
	settle(f);
	assert_int_equal(f->vbd.probes, 1);
	assert_non_null(frontend_find(f->fe, "vbd", "ok_1"));
}

static void test_stop_removes(void **state)
{
	struct fx *f = *state;

	d0_write(f, "/local/domain/5/device/vbd/1/state", "1");
	d0_write(f, "/local/domain/5/device/vif/2/state", "1");
	start_fe(f, table, 2);
	assert_int_equal(f->vbd.probes + f->vif.probes, 2);
	frontend_stop(f->fe);
	f->fe = NULL;
	assert_int_equal(f->vbd.removes + f->vif.removes, 2);
	settle(f);
	assert_int_equal(f->fs.guest->c->nwatches, 0);
}

static void test_bad_tables(void **state)
{
	struct fx *f = *state;
	static const struct frontend_ops noprobe = { .type = "vbd" };
	static const struct frontend_ops badname = { .type = "v/b", .probe = fake_probe };
	const struct frontend_ops *dup[] = { &vbd_ops, &vbd_ops };
	const struct frontend_ops *t1[] = { &noprobe };
	const struct frontend_ops *t2[] = { &badname };
	struct frontend_env env = { .base = f->base, .xb = f->xb };
	struct frontends *fe;

	assert_int_equal(frontend_start(&fe, &env, dup, 2), -EINVAL);
	assert_int_equal(frontend_start(&fe, &env, t1, 1), -EINVAL);
	assert_int_equal(frontend_start(&fe, &env, t2, 1), -EINVAL);
	assert_null(fe);
}

int main(void)
{
#define T(t) cmocka_unit_test_setup_teardown(t, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(test_builtin_is_vbd),
		T(test_no_frontends_watch_nothing),
		T(test_existing_devices_probed_at_start),
		T(test_probe_changed_remove),
		T(test_probe_failure),
		T(test_bad_ids_ignored),
		T(test_stop_removes),
		T(test_bad_tables),
	};

	log_init("test_frontend", LOG_LVL_ERR, NULL);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
