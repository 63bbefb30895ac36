"""Video files through PyAV: :func:`probe` checks a file and describes it, :func:`read_frames`
streams its frames as RGB arrays with their time stamps (a damaged frame is reported and skipped,
never the end of the run), and :class:`VideoWriter` encodes H.264 into a temporary file beside
the output, copies the input's audio packets untouched, and publishes the file atomically."""

from __future__ import annotations

import os
import re
import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np

from tinct.errors import TinctError

VIDEO_EXTENSIONS = {".mp4", ".mov", ".mkv", ".avi", ".webm", ".m4v"}


class VideoError(TinctError):
    """A video that cannot be read or written as asked."""


@dataclass
class VideoInfo:
    path: Path
    width: int
    height: int
    frames: int  # from the container; 0 when it does not say
    rate: Fraction  # average frame rate
    time_base: Fraction
    duration_s: float
    codec: str
    rotation: int  # degrees, from the display matrix (0 when none)
    audio: int  # number of audio streams


@dataclass
class Frame:
    index: int
    pts: int | None
    time_s: float
    rgb: np.ndarray  # H x W x 3 uint8


def _open(path: Path):
    import av

    if not path.is_file():
        raise VideoError(f"{path}: no such file")
    try:
        return av.open(str(path))
    except (av.FFmpegError, UnicodeDecodeError, ValueError) as exc:
        raise VideoError(f"{path}: not a readable video ({_short(exc)})") from None


def _short(exc: BaseException) -> str:
    """An FFmpeg error in words: its message without the ``[Errno N]`` prefix and the file name."""
    msg = getattr(exc, "strerror", None) or str(exc)
    msg = re.sub(r"^\[Errno -?\d+\]\s*", "", " ".join(str(msg).split()))
    filename = getattr(exc, "filename", None)
    if filename:
        msg = msg.replace(f": '{filename}'", "").replace(str(filename), "the file")
    return msg[:160] or type(exc).__name__


def probe(path: str | os.PathLike) -> VideoInfo:
    """Open ``path`` and describe its first video stream, or raise a one-line :class:`VideoError`."""
    p = Path(path)
    with _open(p) as c:
        if not c.streams.video:
            raise VideoError(f"{p}: no video stream")
        if c.format.name == "image2" or c.format.name.endswith("_pipe"):
            raise VideoError(f"{p}: a still image, not a video (tinct colorize takes images)")
        v = c.streams.video[0]
        if v.codec_context is None or not v.codec_context.name:
            raise VideoError(f"{p}: unsupported video codec")
        rate = v.average_rate or v.guessed_rate or Fraction(25)
        tb = v.time_base or Fraction(1, 90000)
        duration = float(v.duration * tb) if v.duration else (float(c.duration) / 1e6 if c.duration else 0.0)
        rotation = 0
        try:
            first = next(c.decode(v))
            rotation = int(round(getattr(first, "rotation", 0) or 0)) % 360
        except StopIteration:
            raise VideoError(f"{p}: the video stream has no frames") from None
        except Exception as exc:  # noqa: BLE001 - any decoder failure on the first frame
            raise VideoError(f"{p}: cannot decode the video ({_short(exc)})") from None
        return VideoInfo(p, v.codec_context.width or first.width, v.codec_context.height or first.height,
                         int(v.frames or 0), Fraction(rate), Fraction(tb), duration, v.codec_context.name,
                         rotation, len(c.streams.audio))


def turn(rgb: np.ndarray, degrees: int) -> np.ndarray:
    """``rgb`` turned counter-clockwise by ``degrees`` (a multiple of 90, as display matrices say)."""
    k = (round(degrees / 90) % 4)
    return np.ascontiguousarray(np.rot90(rgb, k)) if k else rgb


def read_frames(path: str | os.PathLike, on_damage: Callable[[str], None] | None = None,
                upright: bool = False) -> Iterator[Frame]:
    """The frames of the first video stream as RGB, in order, with time stamps (streamed: one frame
    in memory at a time). A packet that fails to decode is reported through ``on_damage`` and
    skipped; the rest of the video still comes. ``upright``: turned as the display matrix says (a
    phone clip filmed upright comes upright), else as stored."""
    import av

    p = Path(path)
    with _open(p) as c:
        v = c.streams.video[0]
        v.thread_type = "AUTO"
        tb = v.time_base or Fraction(1, 90000)
        index = 0
        for packet in c.demux(v):
            try:
                frames = packet.decode()
            except av.FFmpegError as exc:
                if on_damage:
                    on_damage(f"{p}: a damaged packet near frame {index} was skipped ({_short(exc)})")
                continue
            for f in frames:
                t = float(f.pts * tb) if f.pts is not None else index / float(v.average_rate or 25)
                rgb = f.to_ndarray(format="rgb24")
                if upright:
                    rgb = turn(rgb, int(round(f.rotation or 0)))
                yield Frame(index, f.pts, t, rgb)
                index += 1


class VideoWriter:
    """H.264 (yuv420p, CRF ``crf``) into ``out`` with the time base and frame rate of ``info``; the
    audio streams of ``info.path`` are copied packet by packet at :meth:`close`. Written to a
    hidden temporary file and renamed into place, so ``out`` is either whole or absent."""

    def __init__(self, out: str | os.PathLike, info: VideoInfo, width: int, height: int, crf: int = 18,
                 overwrite: bool = False):
        import av

        self.out = Path(out)
        if self.out.exists() and not overwrite:
            raise VideoError(f"{self.out} already exists; use --overwrite to replace it")
        self.out.parent.mkdir(parents=True, exist_ok=True)
        self.tmp = self.out.parent / f".{self.out.name}.{secrets.token_hex(4)}.tmp"
        self.info, self.overwrite = info, overwrite
        self.container = av.open(str(self.tmp), mode="w", format="mp4")
        s = self.container.add_stream("libx264", rate=info.rate)
        s.width, s.height = width - width % 2, height - height % 2
        s.pix_fmt = "yuv420p"
        s.time_base = info.time_base
        s.options = {"crf": str(crf), "preset": "medium"}
        if info.rotation:
            s.set_display_rotation(info.rotation)  # the input's display matrix, as it was
        self.stream = s
        self.audio_out = {}
        with _open(info.path) as src:
            for a in src.streams.audio:
                self.audio_out[a.index] = self.container.add_stream_from_template(a)
        self.count = 0

    def write(self, rgb: np.ndarray, pts: int | None) -> None:
        import av

        h, w = self.stream.height, self.stream.width
        frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb[:h, :w]), format="rgb24")
        frame.pts = pts if pts is not None else self.count
        frame.time_base = self.info.time_base
        for packet in self.stream.encode(frame):
            self.container.mux(packet)
        self.count += 1

    def _copy_audio(self) -> None:
        if not self.audio_out:
            return
        with _open(self.info.path) as src:
            streams = [a for a in src.streams.audio if a.index in self.audio_out]
            for packet in src.demux(*streams):
                if packet.dts is None:
                    continue  # the demuxer's flush packet
                packet.stream = self.audio_out[packet.stream.index]
                self.container.mux(packet)

    def close(self) -> Path:
        """Flush, copy the audio, and publish the file; returns its path."""
        try:
            for packet in self.stream.encode():
                self.container.mux(packet)
            self._copy_audio()
            self.container.close()
            if self.out.exists() and not self.overwrite:
                raise VideoError(f"{self.out} appeared while it was being written; not replaced")
            os.replace(self.tmp, self.out)
            return self.out
        finally:
            self.discard()

    def discard(self) -> None:
        """Drop the temporary file (an interrupted or failed run leaves nothing behind)."""
        try:
            self.container.close()
        except Exception:  # noqa: BLE001 - already closed
            pass
        if self.tmp.exists():
            self.tmp.unlink()
