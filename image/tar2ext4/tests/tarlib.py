"""Building tar fixtures for the tar2ext4 tests with Python's tarfile.

Every helper takes the entry's metadata explicitly, so a test states the
exact values it then expects back from debugfs.
"""
import io
import tarfile

MTIME = 1600000000


def open_tar(path, fmt=tarfile.PAX_FORMAT):
    return tarfile.open(path, "w", format=fmt)


def _info(name, typ, mode, uid=0, gid=0, mtime=MTIME, pax=None, xattrs=None,
          uname="", gname=""):
    ti = tarfile.TarInfo(name)
    ti.type = typ
    ti.mode = mode
    ti.uid, ti.gid = uid, gid
    ti.uname, ti.gname = uname, gname
    ti.mtime = mtime
    headers = dict(pax or {})
    for key, value in (xattrs or {}).items():
        if isinstance(value, bytes):
            # tarfile writes such values as binary (hdrcharset=BINARY).
            value = value.decode("utf-8", "surrogateescape")
        headers["SCHILY.xattr." + key] = value
    ti.pax_headers = headers
    return ti


def reg(tf, name, data=b"", mode=0o644, **kw):
    ti = _info(name, tarfile.REGTYPE, mode, **kw)
    ti.size = len(data)
    tf.addfile(ti, io.BytesIO(data))


def reg_stream(tf, name, size, stream, mode=0o644, **kw):
    ti = _info(name, tarfile.REGTYPE, mode, **kw)
    ti.size = size
    tf.addfile(ti, stream)


def dir_(tf, name, mode=0o755, **kw):
    tf.addfile(_info(name, tarfile.DIRTYPE, mode, **kw))


def sym(tf, name, target, mode=0o777, **kw):
    ti = _info(name, tarfile.SYMTYPE, mode, **kw)
    ti.linkname = target
    tf.addfile(ti)


def hard(tf, name, target, mode=0o644, **kw):
    ti = _info(name, tarfile.LNKTYPE, mode, **kw)
    ti.linkname = target
    tf.addfile(ti)


def dev(tf, name, kind, major, minor, mode=0o600, **kw):
    ti = _info(name, tarfile.CHRTYPE if kind == "c" else tarfile.BLKTYPE, mode, **kw)
    ti.devmajor, ti.devminor = major, minor
    tf.addfile(ti)


def fifo(tf, name, mode=0o644, **kw):
    tf.addfile(_info(name, tarfile.FIFOTYPE, mode, **kw))


def header_only(path, name, size, fmt=tarfile.PAX_FORMAT):
    """A tar whose one member claims size bytes that never follow."""
    ti = tarfile.TarInfo(name)
    ti.size = size
    ti.mtime = MTIME
    with open(path, "wb") as f:
        f.write(ti.tobuf(fmt, "utf-8", "surrogateescape"))


class Zeros(io.RawIOBase):
    """n zero bytes, without holding them in memory."""

    def __init__(self, n):
        self.left = n

    def readable(self):
        return True

    def readinto(self, b):
        k = min(len(b), self.left)
        b[:k] = bytes(k)
        self.left -= k
        return k
