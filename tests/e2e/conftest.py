"""One real `nodeops up` stack per test module (starting one costs seconds; the flows share it).

A module sets `STACK_OPTIONS = {...}` (keyword arguments of LocalStack.start, e.g.
`{"monitoring": False}`) to change it. On a failure the stack's logs are copied to
$NODEOPS_ARTIFACTS/e2e-<module>/ so they survive the temp dir.
"""
import shutil

import pytest
from harness import ARTIFACTS
from local_stack import LocalStack, require_stack_programs


@pytest.fixture(scope="module")
def stack(request, tmp_path_factory):
    options = dict(getattr(request.module, "STACK_OPTIONS", {}))
    require_stack_programs(options.get("monitoring", True))
    tmp = tmp_path_factory.mktemp("stack")
    s = LocalStack.start(tmp, wait=False, **options)
    request.module._stack_failed = False
    try:
        try:
            s.wait_ready()
        except BaseException:
            request.module._stack_failed = True
            raise
        yield s
    finally:
        s.kill()
        if getattr(request.module, "_stack_failed", False):
            dest = ARTIFACTS / f"e2e-{request.module.__name__}"
            shutil.rmtree(dest, ignore_errors=True)
            dest.mkdir(parents=True, exist_ok=True)
            shutil.copy(s.log_path, dest / "up.log")
            if (s.state_dir / "logs").is_dir():
                shutil.copytree(s.state_dir / "logs", dest / "logs")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if report.failed:
        item.module._stack_failed = True
