"""No image bytes are kept anywhere: not in the database, not in the data folder, not in a
temporary file (a multipart upload over 1 MB would be spooled to one by a stock parser)."""

import io
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image
from sqlalchemy import select

from service.db.base import Base
from service.db.engine import make_engine
from support import ADMIN, add_camera, add_location, bearer

SIGNATURES = (b"\xff\xd8\xff", b"\x89PNG", b"/9j/", b"iVBORw0KGgo")  # raw and base64


def noisy_png(megabytes: float) -> bytes:
    side = int((megabytes * 1024 * 1024 / 3) ** 0.5)
    pixels = np.random.default_rng(0).integers(0, 256, (side, side, 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG", compress_level=0)
    return buffer.getvalue()


def all_stored_values(database_url: str) -> list:
    engine = make_engine(database_url)
    try:
        with engine.connect() as connection:
            return [value for table in Base.metadata.sorted_tables
                    for row in connection.execute(select(table)) for value in row]
    finally:
        engine.dispose()


def file_bytes(path: Path) -> bytes:
    """The file's bytes, read by another process: closing a descriptor of the SQLite database in
    this process would drop every POSIX lock this process's SQLite connections hold on it (a
    known way to corrupt a SQLite database), and other processes then write over them."""
    reader = "import sys; sys.stdout.buffer.write(open(sys.argv[1], 'rb').read())"
    return subprocess.run([sys.executable, "-c", reader, str(path)], capture_output=True, check=True).stdout


def test_no_image_bytes_in_database_data_folder_or_temp_files(client, settings, database_url,
                                                               tmp_path, monkeypatch):
    temp = tmp_path / "tmp"
    temp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(temp))
    location = add_location(client)
    key = add_camera(client, location["id"])["api_key"]
    image = noisy_png(3)
    for number in range(3):
        response = client.post(f"/locations/{location['id']}/frames", headers=bearer(key),
                               data={"frame_id": f"p{number}"}, files={"image": ("f.png", image, "image/png")})
        assert response.status_code == 201, response.text
    assert client.get(f"/locations/{location['id']}/happiness-index", headers=ADMIN).json()["overall"]["frames"] == 3

    stored = repr(all_stored_values(database_url)).encode()
    assert not any(signature in stored for signature in SIGNATURES)
    assert list(temp.iterdir()) == []
    for path in kept_files(settings, database_url):
        content = file_bytes(path)
        assert not any(signature in content for signature in SIGNATURES), path


def kept_files(settings, database_url: str) -> list[Path]:
    """The data folder's files, and the SQLite database with its write-ahead log."""
    files = [p for p in settings.data_dir.rglob("*") if p.is_file()]
    if database_url.startswith("sqlite:///"):
        database = Path(database_url.removeprefix("sqlite:///"))
        files += [p for p in (database, Path(f"{database}-wal")) if p.exists()]
    return files
