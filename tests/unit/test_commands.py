import shlex

from bluegreen import commands
from bluegreen.commands import COMPOSE_V1, COMPOSE_V2, Compose


def blue(program: tuple[str, ...] = COMPOSE_V2) -> Compose:
    env = {"BLUEGREEN_PORT": "8081", "BLUEGREEN_COLOR": "blue", "BLUEGREEN_IMAGE": "reg/shop:abc"}
    return Compose(program, "shop-blue", ("/srv/bg/shop/blue/compose.yml",), env)


def test_compose_up_passes_color_port_and_image_as_environment() -> None:
    assert shlex.join(blue().up()) == (
        "env BLUEGREEN_COLOR=blue BLUEGREEN_IMAGE=reg/shop:abc BLUEGREEN_PORT=8081 "
        "docker compose -p shop-blue -f /srv/bg/shop/blue/compose.yml up --detach --remove-orphans"
    )


def test_compose_v1_uses_the_docker_compose_program() -> None:
    assert shlex.join(blue(COMPOSE_V1).pull()) == (
        "env BLUEGREEN_COLOR=blue BLUEGREEN_IMAGE=reg/shop:abc BLUEGREEN_PORT=8081 "
        "docker-compose -p shop-blue -f /srv/bg/shop/blue/compose.yml pull --quiet"
    )


def test_compose_without_environment_has_no_env_prefix() -> None:
    proxy = Compose(COMPOSE_V2, "shop-proxy", ("/a/proxy/compose.yml",), {})
    assert proxy.stop() == ["docker", "compose", "-p", "shop-proxy", "-f", "/a/proxy/compose.yml",
                            "stop", "--timeout", "10"]  # fmt: skip
    assert proxy.down()[-4:] == ["down", "--remove-orphans", "--timeout", "10"]


def test_one_file_per_color_layout_passes_every_file() -> None:
    project = Compose(COMPOSE_V2, "shop-green", ("/a/base.yml", "/a/green.yml"), {})
    assert project("ps") == [
        "docker",
        "compose",
        "-p",
        "shop-green",
        "-f",
        "/a/base.yml",
        "-f",
        "/a/green.yml",
        "ps",
    ]


def test_lock_is_held_by_flock_for_as_long_as_cat_reads_the_channel() -> None:
    assert shlex.join(commands.take_lock("/srv/bg/shop/.lock", 300)) == (
        "flock --exclusive --wait 300 --conflict-exit-code 75 /srv/bg/shop/.lock "
        "sh -c 'echo bluegreen-lock-acquired && exec cat'"
    )


def test_nginx_commands() -> None:
    assert shlex.join(commands.nginx_test("shop-proxy-nginx-1", "/etc/bg/nginx.conf.next")) == (
        "docker exec shop-proxy-nginx-1 nginx -t -q -c /etc/bg/nginx.conf.next"
    )
    assert shlex.join(
        commands.nginx_test_in_new_container("nginx:1.27", "/srv/shop/nginx", "/etc/x.conf")
    ) == (
        "docker run --rm --network host --volume /srv/shop/nginx:/etc/bluegreen-nginx:ro nginx:1.27 "
        "nginx -t -q -c /etc/x.conf"
    )


def test_file_commands_end_options_before_paths() -> None:
    assert commands.make_dirs("/a", "/b") == ["mkdir", "-p", "--", "/a", "/b"]
    assert commands.remove("/a") == ["rm", "-f", "--", "/a"]
