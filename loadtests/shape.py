"""Stepped load: N more users every step, held for a while, up to a ceiling, then stop.

    locust -f loadtests/locustfile.py,loadtests/shape.py --headless --host URL \
        --step-users 5 --step-seconds 30 --steps 4
    python -m loadtests.run --shape step --step-users 5 --step-seconds 30 --steps 4

A separate file so the plain `-u/-r/-t` run stays the default: Locust uses a shape class
whenever one is in the loaded files. With 5 users x 30 s x 4 steps the test runs 5, 10,
15, 20 users for 30 s each (2 minutes), which shows where latency starts to climb.
"""

from __future__ import annotations

from locust import LoadTestShape, events


@events.init_command_line_parser.add_listener
def _options(parser) -> None:
    group = parser.add_argument_group("stepped load (loadtests/shape.py)")
    group.add_argument("--step-users", type=int, default=5, help="users added at each step")
    group.add_argument("--step-seconds", type=float, default=30.0, help="how long each step holds")
    group.add_argument("--steps", type=int, default=4, help="number of steps; the test stops after the last")
    group.add_argument("--step-spawn-rate", type=float, default=5.0, help="users started per second within a step")


def step_at(elapsed: float, step_users: int, step_seconds: float, steps: int) -> int | None:
    """Users wanted `elapsed` seconds in, or None once the last step is over."""
    if step_seconds <= 0 or steps <= 0 or elapsed >= step_seconds * steps:
        return None
    return step_users * (int(elapsed // step_seconds) + 1)


class StepLoadShape(LoadTestShape):
    """Users in steps of `--step-users`, each held `--step-seconds`, `--steps` times."""

    def tick(self):
        """Locust asks once a second: (users, spawn rate), or None to stop."""
        options = self.runner.environment.parsed_options
        users = step_at(self.get_run_time(), options.step_users, options.step_seconds, options.steps)
        return None if users is None else (users, options.step_spawn_rate)
