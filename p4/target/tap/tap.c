/*
 * TAP packet I/O for the P4 software target: a small N-API addon (NAPI_VERSION 8, plain C).
 *
 * attach(name, netnsPath|null)              -> {fd, ifindex} | {code, syscall}
 * start(fd, slab, lens, slotSize, callback) -> true | {code, syscall}
 * stop(fd)                                  -> true | {code, syscall}
 * write(fd, bytes, offset, length)          -> bytes written (0 on EAGAIN) | {code, syscall}
 * close(fd)                                 -> true if it was open here, false otherwise
 *
 * attach re-attaches to an existing persistent TAP, from inside a namespace when given one (setns
 * on the calling thread, always undone before returning); it never leaves a new device behind.
 * Descriptors are non-blocking and driven by a uv_poll_t on the caller's loop: one JS callback per
 * wakeup, (count, errorCode?), with up to MAX_BATCH frames read into the caller's slab (fixed
 * slots) and their lengths into the caller's Uint32Array; a frame that fills its slot was
 * truncated by the kernel and is dropped. Failures are returned as values whose code is an errno
 * name or NOT_FOUND / NOT_PERSISTENT / IFINDEX_CHANGED; only wrong argument types throw. Only
 * descriptors opened by attach are ever read, written or closed.
 */
#define NAPI_VERSION 8
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <node_api.h>
#include <sched.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>
#include <uv.h>

#define MAX_BATCH 64      /* frames per wakeup, for fairness between descriptors */
#define MIN_SLOT 64       /* smallest accepted slot (a minimum Ethernet frame) */
#define MAX_SLOT 262144   /* largest accepted slot */
#define MAX_WRITE 65535   /* largest frame accepted by write */

/* Codes that are not errno values (negative so they never collide with one). */
#define E_NOT_FOUND (-1)
#define E_NOT_PERSISTENT (-2)
#define E_IFINDEX_CHANGED (-3)

typedef struct state state_t;

typedef struct tap {
  struct tap *next;
  state_t *st;
  int fd;
  int polling;       /* uv_poll_start succeeded and no stop since */
  int has_js;        /* refs and async context below are live */
  uv_poll_t poll;    /* poll.data points back to this struct */
  napi_env env;
  napi_ref slab, lens, cb;
  napi_async_context ctx;
  size_t slot;       /* slot size in bytes */
  uint32_t slots;    /* slots used per wakeup (<= MAX_BATCH) */
} tap_t;

/*
 * Per environment (main thread or worker): the open TAPs and the number of handles whose close
 * callback has not run yet. The environment's teardown waits for those (an async cleanup hook):
 * a close callback must not run after the addon is unloaded, which a worker does right after
 * its cleanup hooks.
 */
struct state {
  tap_t *taps;
  unsigned closing;
  int tearing_down;
  napi_async_cleanup_hook_handle hook;
};

static tap_t *find(state_t *st, int fd) {
  for (tap_t *t = st->taps; t; t = t->next)
    if (t->fd == fd) return t;
  return NULL;
}

static void unlink_tap(state_t *st, tap_t *t) {
  for (tap_t **p = &st->taps; *p; p = &(*p)->next) {
    if (*p == t) {
      *p = t->next;
      return;
    }
  }
}

/* The failure value {code, syscall}. */
static napi_value failure(napi_env env, int code, const char *syscall) {
  char buf[64];
  const char *name;
  if (code == E_NOT_FOUND) name = "NOT_FOUND";
  else if (code == E_NOT_PERSISTENT) name = "NOT_PERSISTENT";
  else if (code == E_IFINDEX_CHANGED) name = "IFINDEX_CHANGED";
  else name = uv_err_name_r(-code, buf, sizeof buf);
  napi_value obj, v;
  if (napi_create_object(env, &obj) != napi_ok) return NULL;
  if (napi_create_string_utf8(env, name, NAPI_AUTO_LENGTH, &v) != napi_ok) return NULL;
  if (napi_set_named_property(env, obj, "code", v) != napi_ok) return NULL;
  if (napi_create_string_utf8(env, syscall, NAPI_AUTO_LENGTH, &v) != napi_ok) return NULL;
  if (napi_set_named_property(env, obj, "syscall", v) != napi_ok) return NULL;
  return obj;
}

static napi_value type_error(napi_env env, const char *msg) {
  napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", msg);
  return NULL;
}

static napi_value success(napi_env env) {
  napi_value v;
  return napi_get_boolean(env, true, &v) == napi_ok ? v : NULL;
}

/* Reads an int32 argument; 0 and a thrown TypeError when it is not a number. */
static int get_int(napi_env env, napi_value v, int32_t *out, const char *what) {
  napi_valuetype type;
  if (napi_typeof(env, v, &type) != napi_ok || type != napi_number) {
    type_error(env, what);
    return 0;
  }
  return napi_get_value_int32(env, v, out) == napi_ok;
}

/* A typed array's data and element count, when it has the expected element type. */
static int get_typed(napi_env env, napi_value v, napi_typedarray_type want, void **data, size_t *len) {
  bool is;
  napi_typedarray_type type;
  if (napi_is_typedarray(env, v, &is) != napi_ok || !is) return 0;
  if (napi_get_typedarray_info(env, v, &type, len, data, NULL, NULL) != napi_ok) return 0;
  return type == want && (*data != NULL || *len == 0);
}

/* In the calling thread's current namespace: opens and checks the existing persistent TAP. */
static int open_tap(const char *name, int *fd_out, unsigned *index_out, const char **syscall) {
  unsigned index = if_nametoindex(name);
  if (index == 0) {
    *syscall = "if_nametoindex";
    return errno == ENODEV ? E_NOT_FOUND : errno;
  }
  int fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) {
    *syscall = "open /dev/net/tun";
    return errno;
  }
  struct ifreq ifr;
  memset(&ifr, 0, sizeof ifr);
  memcpy(ifr.ifr_name, name, strlen(name)); /* strlen(name) < IFNAMSIZ, checked by the caller */
  ifr.ifr_flags = IFF_TAP | IFF_NO_PI;
  int code = 0;
  if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
    code = errno;
    *syscall = "ioctl TUNSETIFF";
  } else {
    memset(&ifr, 0, sizeof ifr);
    if (ioctl(fd, TUNGETIFF, &ifr) < 0) {
      code = errno;
      *syscall = "ioctl TUNGETIFF";
    } else if (!(ifr.ifr_flags & IFF_PERSIST)) {
      /* Created by TUNSETIFF (the device vanished in between): closing the fd removes it. */
      code = E_NOT_PERSISTENT;
      *syscall = "ioctl TUNGETIFF";
    } else if (if_nametoindex(name) != index) {
      code = E_IFINDEX_CHANGED;
      *syscall = "if_nametoindex";
    }
  }
  if (code != 0) {
    close(fd);
    return code;
  }
  *fd_out = fd;
  *index_out = index;
  return 0;
}

static napi_value js_attach(napi_env env, napi_callback_info info) {
  state_t *st;
  size_t argc = 2;
  napi_value argv[2];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, (void **)&st) != napi_ok) return NULL;
  if (argc < 1) return type_error(env, "attach(name, netnsPath) needs a name");
  napi_valuetype type;
  if (napi_typeof(env, argv[0], &type) != napi_ok || type != napi_string) return type_error(env, "name must be a string");
  char name[IFNAMSIZ];
  size_t len;
  if (napi_get_value_string_utf8(env, argv[0], NULL, 0, &len) != napi_ok) return NULL;
  if (len == 0 || len >= IFNAMSIZ) return failure(env, EINVAL, "attach: name length");
  if (napi_get_value_string_utf8(env, argv[0], name, sizeof name, &len) != napi_ok) return NULL;
  if (strlen(name) != len || strchr(name, '%') || strchr(name, '/')) return failure(env, EINVAL, "attach: name");

  char path[PATH_MAX];
  int has_ns = 0;
  if (argc >= 2) {
    if (napi_typeof(env, argv[1], &type) != napi_ok) return NULL;
    if (type == napi_string) {
      if (napi_get_value_string_utf8(env, argv[1], NULL, 0, &len) != napi_ok) return NULL;
      if (len == 0 || len >= sizeof path) return failure(env, EINVAL, "attach: netns path length");
      if (napi_get_value_string_utf8(env, argv[1], path, sizeof path, &len) != napi_ok) return NULL;
      if (strlen(path) != len) return failure(env, EINVAL, "attach: netns path");
      has_ns = 1;
    } else if (type != napi_undefined && type != napi_null) {
      return type_error(env, "netnsPath must be a string, undefined or null");
    }
  }

  tap_t *t = calloc(1, sizeof *t);
  if (!t) return failure(env, ENOMEM, "calloc");

  int self = -1;
  if (has_ns) {
    self = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
    if (self < 0) {
      int e = errno;
      free(t);
      return failure(env, e, "open /proc/thread-self/ns/net");
    }
    int target = open(path, O_RDONLY | O_CLOEXEC);
    if (target < 0) {
      int e = errno;
      close(self);
      free(t);
      return failure(env, e, "open netns");
    }
    int r = setns(target, CLONE_NEWNET);
    int e = errno;
    close(target);
    if (r < 0) {
      close(self);
      free(t);
      return failure(env, e, "setns");
    }
  }

  int fd = -1;
  unsigned index = 0;
  const char *syscall = "";
  int code = open_tap(name, &fd, &index, &syscall);

  if (has_ns) {
    /* This thread runs JavaScript: it must never stay in the other namespace. */
    if (setns(self, CLONE_NEWNET) < 0) napi_fatal_error("tap.attach", NAPI_AUTO_LENGTH, "setns back to the original network namespace failed", NAPI_AUTO_LENGTH);
    close(self);
  }
  if (code != 0) {
    free(t);
    return failure(env, code, syscall);
  }

  uv_loop_t *loop;
  int r = napi_get_uv_event_loop(env, &loop) == napi_ok ? uv_poll_init(loop, &t->poll, fd) : UV_EINVAL;
  if (r != 0) {
    close(fd);
    free(t);
    return failure(env, -r, "uv_poll_init");
  }
  t->fd = fd;
  t->st = st;
  t->env = env;
  t->poll.data = t;
  t->next = st->taps;
  st->taps = t;

  napi_value obj, v;
  if (napi_create_object(env, &obj) != napi_ok) return NULL;
  if (napi_create_int32(env, fd, &v) != napi_ok || napi_set_named_property(env, obj, "fd", v) != napi_ok) return NULL;
  if (napi_create_uint32(env, index, &v) != napi_ok || napi_set_named_property(env, obj, "ifindex", v) != napi_ok) return NULL;
  return obj;
}

/* Drops the JS objects held for polling (slab, lengths, callback, async context). */
static void release_js(tap_t *t) {
  if (!t->has_js) return;
  napi_delete_reference(t->env, t->slab);
  napi_delete_reference(t->env, t->lens);
  napi_delete_reference(t->env, t->cb);
  napi_async_destroy(t->env, t->ctx);
  t->has_js = 0;
}

static void call_js(tap_t *t, uint32_t count, int error) {
  napi_env env = t->env;
  napi_value cb, recv, argv[2];
  char buf[64];
  if (napi_get_reference_value(env, t->cb, &cb) != napi_ok || cb == NULL) return;
  if (napi_get_global(env, &recv) != napi_ok) return; /* napi_make_callback wants an object */
  if (napi_create_uint32(env, count, &argv[0]) != napi_ok) return;
  napi_status s = error == 0 ? napi_get_undefined(env, &argv[1])
                             : napi_create_string_utf8(env, uv_err_name_r(-error, buf, sizeof buf), NAPI_AUTO_LENGTH, &argv[1]);
  if (s != napi_ok) return;
  /* The callback may stop or close this TAP: nothing of t is used after this call. */
  if (napi_make_callback(env, t->ctx, recv, cb, 2, argv, NULL) == napi_pending_exception) {
    napi_value exc;
    if (napi_get_and_clear_last_exception(env, &exc) == napi_ok) napi_fatal_exception(env, exc);
  }
}

static void on_readable(uv_poll_t *handle, int status, int events) {
  (void)events;
  tap_t *t = handle->data;
  napi_env env = t->env;
  if (!t->has_js) return;
  napi_handle_scope scope;
  if (napi_open_handle_scope(env, &scope) != napi_ok) return;
  uint32_t count = 0;
  int error = 0;
  napi_value slab_v, lens_v;
  uint8_t *slab;
  uint32_t *lens;
  size_t slab_len, lens_len;
  if (status < 0) {
    /* libuv has already stopped the handle (POLLERR: the device went away). */
    t->polling = 0;
    error = -status;
  } else if (napi_get_reference_value(env, t->slab, &slab_v) != napi_ok || napi_get_reference_value(env, t->lens, &lens_v) != napi_ok ||
             !get_typed(env, slab_v, napi_uint8_array, (void **)&slab, &slab_len) ||
             !get_typed(env, lens_v, napi_uint32_array, (void **)&lens, &lens_len) || slab_len < t->slot * t->slots || lens_len < t->slots) {
    /* The receive area was detached (transferred) since start. */
    error = EINVAL;
  } else {
    for (uint32_t reads = 0; count < t->slots && reads < 2 * MAX_BATCH; reads++) {
      ssize_t n = read(t->fd, slab + (size_t)count * t->slot, t->slot);
      if (n < 0) {
        if (errno == EINTR) continue;
        if (errno != EAGAIN && errno != EWOULDBLOCK) error = errno;
        break;
      }
      if (n == 0) break;
      if ((size_t)n >= t->slot) continue; /* filled the slot: the kernel truncated it to fit; dropped */
      lens[count++] = (uint32_t)n;
    }
  }
  if (error != 0 && t->polling) {
    uv_poll_stop(&t->poll);
    t->polling = 0;
  }
  if (count > 0 || error != 0) call_js(t, count, error);
  napi_close_handle_scope(env, scope);
}

static napi_value js_start(napi_env env, napi_callback_info info) {
  state_t *st;
  size_t argc = 5;
  napi_value argv[5];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, (void **)&st) != napi_ok) return NULL;
  if (argc < 5) return type_error(env, "start(fd, slab, lengths, slotSize, callback)");
  int32_t fd, slot;
  if (!get_int(env, argv[0], &fd, "fd must be a number") || !get_int(env, argv[3], &slot, "slotSize must be a number")) return NULL;
  void *slab, *lens;
  size_t slab_len, lens_len;
  if (!get_typed(env, argv[1], napi_uint8_array, &slab, &slab_len)) return type_error(env, "slab must be a Uint8Array");
  if (!get_typed(env, argv[2], napi_uint32_array, &lens, &lens_len)) return type_error(env, "lengths must be a Uint32Array");
  napi_valuetype type;
  if (napi_typeof(env, argv[4], &type) != napi_ok || type != napi_function) return type_error(env, "callback must be a function");
  tap_t *t = find(st, fd);
  if (!t) return failure(env, EBADF, "start");
  if (t->polling) return failure(env, EBUSY, "start");
  if (slot < MIN_SLOT || slot > MAX_SLOT) return failure(env, EINVAL, "start: slotSize");
  size_t slots = slab_len / (size_t)slot;
  if (lens_len < slots) slots = lens_len;
  if (slots > MAX_BATCH) slots = MAX_BATCH;
  if (slots == 0) return failure(env, EINVAL, "start: receive area");

  release_js(t);
  napi_value name;
  if (napi_create_string_utf8(env, "TapPoll", NAPI_AUTO_LENGTH, &name) != napi_ok) return NULL;
  if (napi_async_init(env, NULL, name, &t->ctx) != napi_ok) return failure(env, ENOMEM, "start: napi_async_init");
  if (napi_create_reference(env, argv[1], 1, &t->slab) != napi_ok) goto undo_ctx;
  if (napi_create_reference(env, argv[2], 1, &t->lens) != napi_ok) goto undo_slab;
  if (napi_create_reference(env, argv[4], 1, &t->cb) != napi_ok) goto undo_lens;
  t->has_js = 1;
  t->slot = (size_t)slot;
  t->slots = (uint32_t)slots;
  int r = uv_poll_start(&t->poll, UV_READABLE, on_readable);
  if (r != 0) {
    release_js(t);
    return failure(env, -r, "uv_poll_start");
  }
  t->polling = 1;
  return success(env);

undo_lens:
  napi_delete_reference(env, t->lens);
undo_slab:
  napi_delete_reference(env, t->slab);
undo_ctx:
  napi_async_destroy(env, t->ctx);
  return failure(env, ENOMEM, "start: napi_create_reference");
}

static napi_value js_stop(napi_env env, napi_callback_info info) {
  state_t *st;
  size_t argc = 1;
  napi_value argv[1];
  int32_t fd;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, (void **)&st) != napi_ok) return NULL;
  if (!get_int(env, argv[0], &fd, "fd must be a number")) return NULL; /* a missing one is undefined */
  tap_t *t = find(st, fd);
  if (!t) return failure(env, EBADF, "stop");
  if (t->polling) uv_poll_stop(&t->poll);
  t->polling = 0;
  release_js(t);
  return success(env);
}

static napi_value js_write(napi_env env, napi_callback_info info) {
  state_t *st;
  size_t argc = 4;
  napi_value argv[4];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, (void **)&st) != napi_ok) return NULL;
  if (argc < 4) return type_error(env, "write(fd, bytes, offset, length)");
  int32_t fd, offset, length;
  if (!get_int(env, argv[0], &fd, "fd must be a number") || !get_int(env, argv[2], &offset, "offset must be a number") ||
      !get_int(env, argv[3], &length, "length must be a number"))
    return NULL;
  uint8_t *data;
  size_t len;
  if (!get_typed(env, argv[1], napi_uint8_array, (void **)&data, &len)) return type_error(env, "bytes must be a Uint8Array");
  tap_t *t = find(st, fd);
  if (!t) return failure(env, EBADF, "write");
  if (offset < 0 || length <= 0 || length > MAX_WRITE || (size_t)offset > len || (size_t)length > len - (size_t)offset)
    return failure(env, EINVAL, "write: offset and length");
  ssize_t n;
  do n = write(t->fd, data + offset, (size_t)length);
  while (n < 0 && errno == EINTR);
  if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) n = 0;
  if (n < 0) return failure(env, errno, "write");
  napi_value v;
  if (napi_create_int32(env, (int32_t)n, &v) != napi_ok) return NULL;
  return v;
}

/* Ends the teardown once it has started and no close is pending. */
static void maybe_finish(state_t *st) {
  if (!st->tearing_down || st->closing > 0) return;
  napi_remove_async_cleanup_hook(st->hook);
  free(st);
}

static void on_closed(uv_handle_t *handle) {
  tap_t *t = handle->data;
  state_t *st = t->st;
  free(t);
  st->closing--;
  maybe_finish(st);
}

/* Stops polling, closes the handle (freed on its close callback) and the descriptor. */
static void close_tap(tap_t *t, int with_js) {
  if (t->polling) uv_poll_stop(&t->poll);
  t->polling = 0;
  if (with_js) release_js(t);
  t->st->closing++;
  uv_close((uv_handle_t *)&t->poll, on_closed);
  close(t->fd);
}

static napi_value js_close(napi_env env, napi_callback_info info) {
  state_t *st;
  size_t argc = 1;
  napi_value argv[1];
  int32_t fd;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, (void **)&st) != napi_ok) return NULL;
  if (!get_int(env, argv[0], &fd, "fd must be a number")) return NULL; /* a missing one is undefined */
  tap_t *t = find(st, fd);
  napi_value result;
  if (napi_get_boolean(env, t != NULL, &result) != napi_ok) return NULL;
  if (t) {
    unlink_tap(st, t);
    close_tap(t, 1);
  }
  return result;
}

/* Environment teardown (end of the main thread's loop, worker end): closes every TAP still open. */
static void cleanup(napi_async_cleanup_hook_handle hook, void *arg) {
  state_t *st = arg;
  (void)hook;
  st->tearing_down = 1;
  while (st->taps) {
    tap_t *t = st->taps;
    st->taps = t->next;
    close_tap(t, 0); /* JS is gone: references go with the environment */
  }
  maybe_finish(st);
}

NAPI_MODULE_INIT() {
  state_t *st = calloc(1, sizeof *st);
  if (!st) {
    napi_throw_error(env, "ENOMEM", "tap: out of memory");
    return NULL;
  }
  if (napi_add_async_cleanup_hook(env, cleanup, st, &st->hook) != napi_ok) {
    free(st);
    return NULL;
  }
  static const struct {
    const char *name;
    napi_callback fn;
  } fns[] = {{"attach", js_attach}, {"start", js_start}, {"stop", js_stop}, {"write", js_write}, {"close", js_close}};
  for (size_t i = 0; i < sizeof fns / sizeof fns[0]; i++) {
    napi_value f;
    if (napi_create_function(env, fns[i].name, NAPI_AUTO_LENGTH, fns[i].fn, st, &f) != napi_ok) return NULL;
    if (napi_set_named_property(env, exports, fns[i].name, f) != napi_ok) return NULL;
  }
  return exports;
}
