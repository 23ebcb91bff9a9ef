from service.security.ratelimit import RateLimiter
from support import add_camera, add_location, bearer, jpeg_bytes, make_settings


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_token_bucket_allows_the_burst_then_the_rate():
    clock = FakeClock()
    limiter = RateLimiter(per_minute=60, burst=3, clock=clock)
    assert [limiter.retry_after(7) for _ in range(4)] == [0, 0, 0, 1]
    clock.now += 1.0  # one token per second comes back
    assert limiter.retry_after(7) == 0 and limiter.retry_after(7) == 1
    assert limiter.retry_after(8) == 0  # another camera has its own bucket


def test_zero_rate_means_no_limit():
    limiter = RateLimiter(per_minute=0, burst=1)
    assert all(limiter.retry_after(1) == 0 for _ in range(100))


def test_camera_over_its_rate_gets_429_with_retry_after_and_nothing_counted(database_url, tmp_path, pipeline):
    from fastapi.testclient import TestClient

    from service.main import create_app

    settings = make_settings(database_url, tmp_path, camera_rate_per_minute=6, camera_burst=2)
    with TestClient(create_app(settings, pipeline=pipeline)) as client:
        location = add_location(client)
        key = add_camera(client, location["id"])["api_key"]
        post = lambda: client.post(f"/locations/{location['id']}/frames", content=jpeg_bytes(),  # noqa: E731
                                   headers={"Content-Type": "image/jpeg", **bearer(key)})
        assert [post().status_code for _ in range(2)] == [201, 201]
        refused = post()
        assert refused.status_code == 429 and 1 <= int(refused.headers["retry-after"]) <= 10
        assert "rate limit" in refused.json()["detail"]
        assert pipeline.calls == 2
