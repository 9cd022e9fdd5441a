// AF_PACKET socket for the speaker's ARP/NDP responder: the smallest native piece Herald needs.
//
// Exposes to JavaScript (all synchronous, all errors thrown as Error with a `code` such as
// "ENODEV" or "EPERM"):
//   open(ifname)              -> { handle, ifindex, mac }  socket bound to one interface, BPF attached
//   openLinkMonitor()         -> { handle }  rtnetlink socket subscribed to RTNLGRP_LINK: every
//                             link change (RTM_NEWLINK/RTM_DELLINK) arrives as one datagram, parsed
//                             in TypeScript (src/speaker/l2/netlink.ts)
//   start(handle, onFrame, onError?)  start delivering frames (or netlink datagrams):
//                             onFrame(buffer, pktType) on the main thread. A socket error (the
//                             interface went down: ENETDOWN; netlink overrun: ENOBUFS) stops the
//                             socket and calls onError(code, message) once: the caller reopens.
//   send(handle, frame)       transmit one complete Ethernet frame on the bound interface
//   addMembership(handle, mac) / dropMembership(handle, mac)   link-layer multicast (solicited-node)
//   stats(handle)             -> { packets, drops }  kernel counters since the last call
//   close(handle)             stop and close; idempotent
//
// Receiving does not block the event loop: the socket is non-blocking and watched by a libuv poll
// handle on Node's own loop. When the kernel marks it readable, the callback drains up to a batch
// of frames with recvfrom(MSG_DONTWAIT) and hands each to JavaScript, then returns to the loop.
// libuv's ABI is stable within its major version 1 (the one Node 20 and 24 ship), so this stays as
// portable across Node versions as the N-API calls themselves. A reader thread plus a thread-safe
// function would avoid libuv but costs a thread, a wake-up pipe and a copy across threads per frame.
#include <errno.h>
#include <linux/filter.h>
#include <linux/if_packet.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <node_api.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>
#include <uv.h>

#define MAX_FRAME 65536
#define BATCH 64

// Classic BPF program run by the kernel on every frame of the interface, before any copy to user
// space. It passes only what the responder can answer or must watch, so a busy link costs the
// process nothing for the rest of its traffic:
//   - drop frames this host sent itself (pkttype PACKET_OUTGOING), which ETH_P_ALL would loop back;
//   - drop frames that carried an 802.1Q/802.1ad tag with a VLAN id: the kernel moves the tag out
//     of the frame into metadata before packet sockets see it, so on the parent interface an ARP
//     request from another VLAN looks untagged, and answering it would put this node's MAC into
//     that VLAN's caches with an untagged reply it cannot even receive. On the VLAN's own
//     interface the tag is already consumed (the frame arrives there untagged), so those sockets
//     see their VLAN's frames. VLAN id 0 (a priority tag only) belongs to the untagged network,
//     as the kernel itself treats it;
//   - pass EtherType 0x0806 (ARP);
//   - pass EtherType 0x86dd (IPv6) whose next header is 58 (ICMPv6, no extension headers, as RFC
//     6980 requires of neighbour discovery) and whose ICMPv6 type is 135 (neighbour solicitation)
//     or 136 (neighbour advertisement);
//   - drop everything else (a second tag still in the frame, QinQ, shows as EtherType 0x8100).
// Offsets: EtherType at 12, IPv6 next header at 14+6=20, ICMPv6 type at 14+40=54.
// Hop limit, lengths and checksums are checked in TypeScript, where a reason can be counted.
// Jump offsets count instructions after the jump: DROP is 15, PASS is 16.
static struct sock_filter ndp_arp_filter[] = {
    /* 0 */ BPF_STMT(BPF_LD | BPF_W | BPF_ABS, SKF_AD_OFF + SKF_AD_PKTTYPE),
    /* 1 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, PACKET_OUTGOING, 13, 0),
    /* 2 */ BPF_STMT(BPF_LD | BPF_W | BPF_ABS, SKF_AD_OFF + SKF_AD_VLAN_TAG_PRESENT),
    /* 3 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 0, 3, 0),
    /* 4 */ BPF_STMT(BPF_LD | BPF_W | BPF_ABS, SKF_AD_OFF + SKF_AD_VLAN_TAG),
    /* 5 */ BPF_STMT(BPF_ALU | BPF_AND | BPF_K, 0x0fff),
    /* 6 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 0, 0, 8),
    /* 7 */ BPF_STMT(BPF_LD | BPF_H | BPF_ABS, 12),
    /* 8 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, ETHERTYPE_ARP, 7, 0),
    /* 9 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, ETHERTYPE_IPV6, 0, 5),
    /* 10 */ BPF_STMT(BPF_LD | BPF_B | BPF_ABS, 20),
    /* 11 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, IPPROTO_ICMPV6, 0, 3),
    /* 12 */ BPF_STMT(BPF_LD | BPF_B | BPF_ABS, 54),
    /* 13 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 135, 2, 0),
    /* 14 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 136, 1, 0),
    /* 15 */ BPF_STMT(BPF_RET | BPF_K, 0),
    /* 16 */ BPF_STMT(BPF_RET | BPF_K, MAX_FRAME),
};

typedef struct {
  int fd;
  int ifindex;
  int closing;
  uv_poll_t poll;
  int polling;      // uv_poll_init_socket succeeded: the poll handle must be uv_close()d
  int poll_closed;  // libuv has let go of the poll handle (on_poll_closed ran)
  int finalized;    // JavaScript has let go of the handle (finalize_socket ran)
  napi_env env;
  napi_ref on_frame;
  napi_ref on_error;  // may be NULL
  napi_async_context async_context;
  unsigned char buf[MAX_FRAME];
} packet_socket;

static const char* errno_name(int err) {
  switch (err) {
    case EPERM: return "EPERM";
    case EACCES: return "EACCES";
    case ENODEV: return "ENODEV";
    case ENXIO: return "ENXIO";
    case ENETDOWN: return "ENETDOWN";
    case EINVAL: return "EINVAL";
    case EMSGSIZE: return "EMSGSIZE";
    case ENOBUFS: return "ENOBUFS";
    case EAGAIN: return "EAGAIN";
    case EBADF: return "EBADF";
    case ENOMEM: return "ENOMEM";
    case EADDRNOTAVAIL: return "EADDRNOTAVAIL";
  }
  return "EUNKNOWN";
}

static napi_value throw_errno(napi_env env, const char* what, int err) {
  napi_value code, msg, error;
  char text[256];
  snprintf(text, sizeof text, "%s: %s", what, strerror(err));
  napi_create_string_utf8(env, errno_name(err), NAPI_AUTO_LENGTH, &code);
  napi_create_string_utf8(env, text, NAPI_AUTO_LENGTH, &msg);
  napi_create_error(env, code, msg, &error);
  napi_throw(env, error);
  return NULL;
}

static napi_value throw_usage(napi_env env, const char* text) {
  napi_throw_type_error(env, "EINVAL", text);
  return NULL;
}

static packet_socket* get_socket(napi_env env, napi_value value) {
  packet_socket* s = NULL;
  napi_valuetype type;
  if (napi_typeof(env, value, &type) != napi_ok || type != napi_external) return NULL;
  if (napi_get_value_external(env, value, (void**)&s) != napi_ok) return NULL;
  return s;
}

// Reads (handle, ...) arguments; throws and returns NULL when the handle is bad or closed.
static packet_socket* open_socket_arg(napi_env env, napi_callback_info info, napi_value* second, const char* usage) {
  size_t argc = 2;
  napi_value argv[2];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  packet_socket* s = argc >= 1 ? get_socket(env, argv[0]) : NULL;
  if (!s) {
    throw_usage(env, usage);
    return NULL;
  }
  if (s->closing) {
    throw_errno(env, usage, EBADF);
    return NULL;
  }
  if (second) *second = argc >= 2 ? argv[1] : NULL;
  return s;
}

// Reads (handle, buffer) arguments.
static packet_socket* socket_and_buffer(napi_env env, napi_callback_info info, const char* usage, void** data,
                                        size_t* len) {
  napi_value buffer;
  packet_socket* s = open_socket_arg(env, info, &buffer, usage);
  if (!s) return NULL;
  bool is_buffer = false;
  if (buffer == NULL || napi_is_buffer(env, buffer, &is_buffer) != napi_ok || !is_buffer) {
    throw_usage(env, usage);
    return NULL;
  }
  napi_get_buffer_info(env, buffer, data, len);
  return s;
}

// The struct is shared by libuv (the poll handle) and JavaScript (the external): freed when both
// have let go.
static void release_socket(packet_socket* s) {
  if (s->finalized && (!s->polling || s->poll_closed)) free(s);
}

// The fd is closed only here, once libuv has closed the poll handle: closing it earlier lets the
// kernel hand the same number to the next socket, and libuv's late epoll_ctl(DEL) on that number
// (when the handle is closed) would then silently unregister the new socket.
static void on_poll_closed(uv_handle_t* handle) {
  packet_socket* s = (packet_socket*)handle->data;
  if (s->fd >= 0) close(s->fd);
  s->fd = -1;
  s->poll_closed = 1;
  release_socket(s);
}

// Stops watching and closes the fd (through the poll handle's close callback when there is one).
// Idempotent: close() and the finalizer both call it.
static void shutdown_socket(packet_socket* s, napi_env env) {
  if (s->closing) return;
  s->closing = 1;
  if (s->on_frame) {
    napi_delete_reference(env, s->on_frame);
    s->on_frame = NULL;
  }
  if (s->on_error) {
    napi_delete_reference(env, s->on_error);
    s->on_error = NULL;
  }
  if (s->async_context) {
    napi_async_destroy(env, s->async_context);
    s->async_context = NULL;
  }
  if (s->polling) {
    uv_close((uv_handle_t*)&s->poll, on_poll_closed);
  } else if (s->fd >= 0) {
    close(s->fd);
    s->fd = -1;
  }
}

// Garbage collection of the handle: after close() there is nothing left to do but free.
static void finalize_socket(napi_env env, void* data, void* hint) {
  (void)hint;
  packet_socket* s = (packet_socket*)data;
  shutdown_socket(s, env);
  s->finalized = 1;
  release_socket(s);
}

// Calls fn(argv...) as an I/O callback: make_callback runs microtasks afterwards. The TypeScript
// side catches its own errors; a throw that escapes anyway becomes an uncaught exception.
static int call_js(packet_socket* s, napi_ref ref, size_t argc, napi_value* argv) {
  napi_env env = s->env;
  napi_value fn, global, result;
  if (ref == NULL || napi_get_reference_value(env, ref, &fn) != napi_ok || fn == NULL) return -1;
  napi_get_global(env, &global);
  napi_status st = napi_make_callback(env, s->async_context, global, fn, argc, argv, &result);
  if (st == napi_pending_exception) {
    napi_value exception;
    napi_get_and_clear_last_exception(env, &exception);
    napi_fatal_exception(env, exception);
    return -1;
  }
  return 0;
}

// The socket is in error (libuv stopped the poll handle on POLLERR, or recvfrom failed): stop
// watching it and tell JavaScript once, with the kernel's error (SO_ERROR, e.g. ENETDOWN when the
// interface went down), instead of going deaf without a word.
static void report_error(packet_socket* s, int err) {
  if (s->closing) return;
  uv_poll_stop(&s->poll);
  if (s->on_error == NULL) return;
  napi_env env = s->env;
  napi_value argv[2];
  char text[128];
  snprintf(text, sizeof text, "receive: %s", strerror(err));
  napi_create_string_utf8(env, errno_name(err), NAPI_AUTO_LENGTH, &argv[0]);
  napi_create_string_utf8(env, text, NAPI_AUTO_LENGTH, &argv[1]);
  call_js(s, s->on_error, 2, argv);
}

static int pending_error(packet_socket* s) {
  int err = 0;
  socklen_t len = sizeof err;
  if (getsockopt(s->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0) err = errno;
  return err != 0 ? err : EBADF;
}

static void on_readable(uv_poll_t* handle, int status, int events) {
  (void)events;
  packet_socket* s = (packet_socket*)handle->data;
  if (s->closing) return;
  napi_env env = s->env;
  napi_handle_scope scope;
  if (napi_open_handle_scope(env, &scope) != napi_ok) return;
  if (status < 0) {
    report_error(s, pending_error(s));
    napi_close_handle_scope(env, scope);
    return;
  }
  for (int i = 0; i < BATCH && !s->closing; i++) {
    struct sockaddr_storage from;
    socklen_t fromlen = sizeof from;
    ssize_t n = recvfrom(s->fd, s->buf, sizeof s->buf, MSG_DONTWAIT, (struct sockaddr*)&from, &fromlen);
    if (n < 0) {
      if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) report_error(s, errno);
      break;  // EAGAIN: drained
    }
    napi_value frame, argv[2];
    void* data;
    if (napi_create_buffer_copy(env, (size_t)n, s->buf, &data, &frame) != napi_ok) break;
    argv[0] = frame;
    unsigned pkttype = from.ss_family == AF_PACKET ? ((struct sockaddr_ll*)&from)->sll_pkttype : 0;
    napi_create_uint32(env, pkttype, &argv[1]);
    if (call_js(s, s->on_frame, 2, argv) != 0) break;
  }
  napi_close_handle_scope(env, scope);
}

// Gives an open fd to a new struct and a JavaScript object { handle }; closes the fd on failure.
static int wrap_socket(napi_env env, int fd, int ifindex, napi_value* result, napi_value* handle) {
  packet_socket* s = calloc(1, sizeof *s);
  if (!s) {
    close(fd);
    throw_errno(env, "open", ENOMEM);
    return 0;
  }
  s->fd = fd;
  s->ifindex = ifindex;
  s->env = env;
  s->poll.data = s;
  napi_create_object(env, result);
  napi_create_external(env, s, finalize_socket, NULL, handle);
  napi_set_named_property(env, *result, "handle", *handle);
  return 1;
}

static napi_value js_open(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  char ifname[IFNAMSIZ + 1];
  size_t len = 0;
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc < 1 || napi_get_value_string_utf8(env, argv[0], ifname, sizeof ifname, &len) != napi_ok)
    return throw_usage(env, "open(ifname): ifname must be a string");
  if (len == 0 || len >= IFNAMSIZ) return throw_usage(env, "open(ifname): bad interface name length");

  // Protocol 0 receives nothing until bind(), so no unfiltered frame is queued before the filter
  // is in place.
  int fd = socket(AF_PACKET, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return throw_errno(env, "socket(AF_PACKET)", errno);

  struct ifreq ifr;
  memset(&ifr, 0, sizeof ifr);
  memcpy(ifr.ifr_name, ifname, len);
  if (ioctl(fd, SIOCGIFINDEX, &ifr) < 0) {
    int err = errno;
    close(fd);
    return throw_errno(env, ifname, err);
  }
  int ifindex = ifr.ifr_ifindex;
  if (ioctl(fd, SIOCGIFHWADDR, &ifr) < 0) {
    int err = errno;
    close(fd);
    return throw_errno(env, "SIOCGIFHWADDR", err);
  }
  unsigned char mac[6];
  memcpy(mac, ifr.ifr_hwaddr.sa_data, 6);

  struct sock_fprog prog = {
      .len = sizeof ndp_arp_filter / sizeof ndp_arp_filter[0],
      .filter = ndp_arp_filter,
  };
  if (setsockopt(fd, SOL_SOCKET, SO_ATTACH_FILTER, &prog, sizeof prog) < 0) {
    int err = errno;
    close(fd);
    return throw_errno(env, "SO_ATTACH_FILTER", err);
  }
  struct sockaddr_ll addr;
  memset(&addr, 0, sizeof addr);
  addr.sll_family = AF_PACKET;
  addr.sll_protocol = htons(ETH_P_ALL);
  addr.sll_ifindex = ifindex;
  if (bind(fd, (struct sockaddr*)&addr, sizeof addr) < 0) {
    int err = errno;
    close(fd);
    return throw_errno(env, "bind(AF_PACKET)", err);
  }

  napi_value result, handle, index, macbuf;
  if (!wrap_socket(env, fd, ifindex, &result, &handle)) return NULL;
  void* macdata;
  napi_create_int32(env, ifindex, &index);
  napi_create_buffer_copy(env, 6, mac, &macdata, &macbuf);
  napi_set_named_property(env, result, "ifindex", index);
  napi_set_named_property(env, result, "mac", macbuf);
  return result;
}

// Link changes from the kernel, pushed rather than polled: an rtnetlink socket in the RTNLGRP_LINK
// multicast group (no privilege needed). Only the kernel (port id 0) sends to such groups.
static napi_value js_open_link_monitor(napi_env env, napi_callback_info info) {
  (void)info;
  int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, NETLINK_ROUTE);
  if (fd < 0) return throw_errno(env, "socket(AF_NETLINK)", errno);
  struct sockaddr_nl addr;
  memset(&addr, 0, sizeof addr);
  addr.nl_family = AF_NETLINK;
  addr.nl_groups = RTMGRP_LINK;
  if (bind(fd, (struct sockaddr*)&addr, sizeof addr) < 0) {
    int err = errno;
    close(fd);
    return throw_errno(env, "bind(AF_NETLINK)", err);
  }
  napi_value result, handle;
  if (!wrap_socket(env, fd, 0, &result, &handle)) return NULL;
  return result;
}

static napi_value js_start(napi_env env, napi_callback_info info) {
  napi_value on_frame;
  packet_socket* s = open_socket_arg(env, info, &on_frame, "start(handle, onFrame, onError?)");
  if (!s) return NULL;
  napi_valuetype type;
  if (on_frame == NULL || napi_typeof(env, on_frame, &type) != napi_ok || type != napi_function)
    return throw_usage(env, "start(handle, onFrame, onError?): onFrame must be a function");
  size_t argc = 3;
  napi_value argv[3];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  napi_value on_error = NULL;
  if (argc >= 3 && napi_typeof(env, argv[2], &type) == napi_ok && type == napi_function) on_error = argv[2];
  if (s->polling) return throw_usage(env, "start: already started");
  napi_create_reference(env, on_frame, 1, &s->on_frame);
  if (on_error) napi_create_reference(env, on_error, 1, &s->on_error);
  napi_value name;
  napi_create_string_utf8(env, "herald:packet-socket", NAPI_AUTO_LENGTH, &name);
  napi_async_init(env, NULL, name, &s->async_context);
  uv_loop_t* loop;
  napi_get_uv_event_loop(env, &loop);
  int rc = uv_poll_init_socket(loop, &s->poll, s->fd);
  if (rc == 0) {
    s->poll.data = s;
    s->polling = 1;
    rc = uv_poll_start(&s->poll, UV_READABLE, on_readable);
  }
  if (rc != 0) return throw_errno(env, "uv_poll_start", -rc);
  return NULL;
}

static napi_value js_send(napi_env env, napi_callback_info info) {
  void* data;
  size_t len;
  packet_socket* s = socket_and_buffer(env, info, "send(handle, frame: Buffer)", &data, &len);
  if (!s) return NULL;
  if (len < 14) return throw_usage(env, "send: frame shorter than an Ethernet header");
  // Bound sockets send on the bound interface; the frame carries its own Ethernet header.
  ssize_t n = send(s->fd, data, len, MSG_DONTWAIT);
  if (n < 0) return throw_errno(env, "send", errno);
  napi_value sent;
  napi_create_int64(env, n, &sent);
  return sent;
}

static napi_value membership(napi_env env, napi_callback_info info, int option) {
  void* data;
  size_t len;
  packet_socket* s = socket_and_buffer(env, info, "membership(handle, mac: Buffer)", &data, &len);
  if (!s) return NULL;
  if (len != 6) return throw_usage(env, "membership: mac must be 6 bytes");
  struct packet_mreq mreq;
  memset(&mreq, 0, sizeof mreq);
  mreq.mr_ifindex = s->ifindex;
  mreq.mr_type = PACKET_MR_MULTICAST;
  mreq.mr_alen = 6;
  memcpy(mreq.mr_address, data, 6);
  if (setsockopt(s->fd, SOL_PACKET, option, &mreq, sizeof mreq) < 0)
    return throw_errno(env, option == PACKET_ADD_MEMBERSHIP ? "PACKET_ADD_MEMBERSHIP" : "PACKET_DROP_MEMBERSHIP",
                       errno);
  return NULL;
}

static napi_value js_add_membership(napi_env env, napi_callback_info info) {
  return membership(env, info, PACKET_ADD_MEMBERSHIP);
}

static napi_value js_drop_membership(napi_env env, napi_callback_info info) {
  return membership(env, info, PACKET_DROP_MEMBERSHIP);
}

static napi_value js_stats(napi_env env, napi_callback_info info) {
  packet_socket* s = open_socket_arg(env, info, NULL, "stats(handle)");
  if (!s) return NULL;
  struct tpacket_stats st;
  socklen_t len = sizeof st;
  if (getsockopt(s->fd, SOL_PACKET, PACKET_STATISTICS, &st, &len) < 0)
    return throw_errno(env, "PACKET_STATISTICS", errno);
  napi_value result, packets, drops;
  napi_create_object(env, &result);
  napi_create_uint32(env, st.tp_packets, &packets);
  napi_create_uint32(env, st.tp_drops, &drops);
  napi_set_named_property(env, result, "packets", packets);
  napi_set_named_property(env, result, "drops", drops);
  return result;
}

static napi_value js_close(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  packet_socket* s = argc >= 1 ? get_socket(env, argv[0]) : NULL;
  if (!s) return throw_usage(env, "close(handle): bad handle");
  shutdown_socket(s, env);
  return NULL;
}

static napi_value init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"open", NULL, js_open, NULL, NULL, NULL, napi_enumerable, NULL},
      {"openLinkMonitor", NULL, js_open_link_monitor, NULL, NULL, NULL, napi_enumerable, NULL},
      {"start", NULL, js_start, NULL, NULL, NULL, napi_enumerable, NULL},
      {"send", NULL, js_send, NULL, NULL, NULL, napi_enumerable, NULL},
      {"addMembership", NULL, js_add_membership, NULL, NULL, NULL, napi_enumerable, NULL},
      {"dropMembership", NULL, js_drop_membership, NULL, NULL, NULL, napi_enumerable, NULL},
      {"stats", NULL, js_stats, NULL, NULL, NULL, napi_enumerable, NULL},
      {"close", NULL, js_close, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
