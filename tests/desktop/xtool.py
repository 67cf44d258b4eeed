#!/usr/bin/env python3
"""What a person does to a window under Xvfb, without a window manager: libX11 via ctypes.

  xtool.py close PID   ask the top-level windows of process PID to close (WM_DELETE_WINDOW,
                       as a window manager's close button does); exit 1 if it has none
  xtool.py count PID   print how many mapped top-level windows process PID has
  xtool.py shot FILE   save the whole screen as a PNG
"""

import ctypes
import ctypes.util
import struct
import sys
import zlib

X = ctypes.CDLL(ctypes.util.find_library("X11") or "libX11.so.6")
Window = Atom = ctypes.c_ulong


class XClientMessageEvent(ctypes.Structure):
    _fields_ = [
        ("type", ctypes.c_int),
        ("serial", ctypes.c_ulong),
        ("send_event", ctypes.c_int),
        ("display", ctypes.c_void_p),
        ("window", Window),
        ("message_type", Atom),
        ("format", ctypes.c_int),
        ("data", ctypes.c_long * 5),
    ]


class XEvent(ctypes.Union):
    _fields_ = [("xclient", XClientMessageEvent), ("pad", ctypes.c_long * 24)]


class XWindowAttributes(ctypes.Structure):
    _fields_ = [
        ("x", ctypes.c_int), ("y", ctypes.c_int), ("width", ctypes.c_int), ("height", ctypes.c_int),
        ("border_width", ctypes.c_int), ("depth", ctypes.c_int), ("visual", ctypes.c_void_p),
        ("root", Window), ("c_class", ctypes.c_int), ("bit_gravity", ctypes.c_int),
        ("win_gravity", ctypes.c_int), ("backing_store", ctypes.c_int),
        ("backing_planes", ctypes.c_ulong), ("backing_pixel", ctypes.c_ulong),
        ("save_under", ctypes.c_int), ("colormap", ctypes.c_ulong),
        ("map_installed", ctypes.c_int), ("map_state", ctypes.c_int),
        ("all_event_masks", ctypes.c_long), ("your_event_mask", ctypes.c_long),
        ("do_not_propagate_mask", ctypes.c_long), ("override_redirect", ctypes.c_int),
        ("screen", ctypes.c_void_p),
    ]


class XImage(ctypes.Structure):
    _fields_ = [
        ("width", ctypes.c_int), ("height", ctypes.c_int), ("xoffset", ctypes.c_int),
        ("format", ctypes.c_int), ("data", ctypes.POINTER(ctypes.c_ubyte)),
        ("byte_order", ctypes.c_int), ("bitmap_unit", ctypes.c_int),
        ("bitmap_bit_order", ctypes.c_int), ("bitmap_pad", ctypes.c_int), ("depth", ctypes.c_int),
        ("bytes_per_line", ctypes.c_int), ("bits_per_pixel", ctypes.c_int),
    ]


X.XOpenDisplay.restype = ctypes.c_void_p
X.XOpenDisplay.argtypes = [ctypes.c_char_p]
X.XDefaultRootWindow.restype = Window
X.XDefaultRootWindow.argtypes = [ctypes.c_void_p]
X.XInternAtom.restype = Atom
X.XInternAtom.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int]
X.XQueryTree.argtypes = [ctypes.c_void_p, Window, ctypes.POINTER(Window), ctypes.POINTER(Window),
                         ctypes.POINTER(ctypes.POINTER(Window)), ctypes.POINTER(ctypes.c_uint)]
X.XGetWindowProperty.argtypes = [
    ctypes.c_void_p, Window, Atom, ctypes.c_long, ctypes.c_long, ctypes.c_int, Atom,
    ctypes.POINTER(Atom), ctypes.POINTER(ctypes.c_int), ctypes.POINTER(ctypes.c_ulong),
    ctypes.POINTER(ctypes.c_ulong), ctypes.POINTER(ctypes.POINTER(ctypes.c_ubyte))]
X.XGetWindowAttributes.argtypes = [ctypes.c_void_p, Window, ctypes.POINTER(XWindowAttributes)]
X.XSendEvent.argtypes = [ctypes.c_void_p, Window, ctypes.c_int, ctypes.c_long, ctypes.POINTER(XEvent)]
X.XGetImage.restype = ctypes.POINTER(XImage)
X.XGetImage.argtypes = [ctypes.c_void_p, Window, ctypes.c_int, ctypes.c_int, ctypes.c_uint,
                        ctypes.c_uint, ctypes.c_ulong, ctypes.c_int]
X.XFree.argtypes = [ctypes.c_void_p]
X.XFlush.argtypes = [ctypes.c_void_p]
X.XCloseDisplay.argtypes = [ctypes.c_void_p]

display = X.XOpenDisplay(None)
if not display:
    sys.exit("xtool: cannot open the display (is DISPLAY set?)")
root = X.XDefaultRootWindow(display)


def toplevels():
    r, p, kids, n = Window(), Window(), ctypes.POINTER(Window)(), ctypes.c_uint()
    X.XQueryTree(display, root, ctypes.byref(r), ctypes.byref(p), ctypes.byref(kids), ctypes.byref(n))
    out = [kids[i] for i in range(n.value)]
    if kids:
        X.XFree(kids)
    return out


def pid_of(window):
    atom = X.XInternAtom(display, b"_NET_WM_PID", 1)
    if not atom:
        return None
    kind, fmt, count, rest = Atom(), ctypes.c_int(), ctypes.c_ulong(), ctypes.c_ulong()
    data = ctypes.POINTER(ctypes.c_ubyte)()
    ok = X.XGetWindowProperty(display, window, atom, 0, 1, 0, 6, ctypes.byref(kind), ctypes.byref(fmt),
                              ctypes.byref(count), ctypes.byref(rest), ctypes.byref(data))
    pid = None
    if ok == 0 and count.value == 1 and fmt.value == 32:
        pid = ctypes.cast(data, ctypes.POINTER(ctypes.c_ulong))[0]
    if data:
        X.XFree(data)
    return pid


def mapped(window):
    attrs = XWindowAttributes()
    X.XGetWindowAttributes(display, window, ctypes.byref(attrs))
    return attrs.map_state == 2  # IsViewable


def windows_of(pid):
    return [w for w in toplevels() if pid_of(w) == pid and mapped(w)]


def close(pid):
    targets = windows_of(pid)
    protocols = X.XInternAtom(display, b"WM_PROTOCOLS", 0)
    delete = X.XInternAtom(display, b"WM_DELETE_WINDOW", 0)
    for w in targets:
        ev = XEvent()
        ev.xclient.type = 33  # ClientMessage
        ev.xclient.window = w
        ev.xclient.message_type = protocols
        ev.xclient.format = 32
        ev.xclient.data[0] = delete
        ev.xclient.data[1] = 0  # CurrentTime
        X.XSendEvent(display, w, 0, 0, ctypes.byref(ev))
    X.XFlush(display)
    return len(targets)


def shot(path):
    attrs = XWindowAttributes()
    X.XGetWindowAttributes(display, root, ctypes.byref(attrs))
    w, h = attrs.width, attrs.height
    image = X.XGetImage(display, root, 0, 0, w, h, 0xFFFFFFFF, 2)  # ZPixmap
    img = image.contents
    stride = img.bytes_per_line
    raw = ctypes.string_at(img.data, stride * h)
    rows = []
    for y in range(h):
        line = raw[y * stride: y * stride + w * 4]
        rgb = bytearray(w * 3)
        rgb[0::3], rgb[1::3], rgb[2::3] = line[2::4], line[1::4], line[0::4]  # BGRX -> RGB
        rows.append(b"\x00" + bytes(rgb))

    def chunk(tag, data):
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data))

    png = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
    png += chunk(b"IDAT", zlib.compress(b"".join(rows), 6)) + chunk(b"IEND", b"")
    with open(path, "wb") as f:
        f.write(png)


if __name__ == "__main__":
    if len(sys.argv) != 3 or sys.argv[1] not in ("close", "count", "shot"):
        sys.exit(__doc__)
    verb, arg = sys.argv[1], sys.argv[2]
    if verb == "close":
        sys.exit(0 if close(int(arg)) else 1)
    elif verb == "count":
        print(len(windows_of(int(arg))))
    else:
        shot(arg)
    X.XCloseDisplay(display)
