"""An RTSP camera for the agent's tests: GStreamer's RTSP server plays a video once (re-encoded
as RTP/JPEG) at rtsp://127.0.0.1:PORT/scene, then refuses new sessions, as a camera gone off
line does. Prints "ready" once listening.

    /usr/bin/python3 tests/agent/rtsp_camera.py VIDEO PORT

Needs a Python with PyGObject and GStreamer's RTSP server (Debian: python3-gi,
gir1.2-gst-rtsp-server-1.0, gstreamer1.0-plugins-good; `make rtsp-camera` installs them)."""

import sys

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import GLib, Gst, GstRtspServer  # noqa: E402

PIPELINE = ("( filesrc location={video} ! avidemux ! jpegdec ! videoconvert ! video/x-raw,format=I420 "
            "! jpegenc quality=90 ! rtpjpegpay name=pay0 pt=26 )")


def main(video: str, port: str) -> None:
    Gst.init(None)
    server = GstRtspServer.RTSPServer()
    server.set_address("127.0.0.1")
    server.set_service(port)
    mounts = server.get_mount_points()
    factory = GstRtspServer.RTSPMediaFactory()
    factory.set_launch(PIPELINE.format(video=video))
    factory.set_shared(True)
    mounts.add_factory("/scene", factory)
    # the first session plays the video; later ones (the agent reconnecting) find nothing there
    server.connect("client-connected", lambda _, client: client.connect(
        "play-request", lambda *_: mounts.remove_factory("/scene")))
    server.attach(None)
    print("ready", flush=True)
    GLib.MainLoop().run()


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
