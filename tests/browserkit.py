"""Browser helpers shared by the browser tests."""

from __future__ import annotations


def login(page, hub, demo_name: str) -> None:
    """Log in through the hub's login page as the account standing for ``demo_name``."""
    name = hub.names[demo_name]
    page.goto(f"{hub.url}/hub/login")
    page.fill("#username_input", name)
    page.fill("#password_input", hub.passwords[name])
    page.click("#login_submit")


def run_cell(page, cell, attempts: int = 3) -> None:
    """Run one notebook cell (Ctrl+Enter) and wait until its prompt shows an execution count.

    A run requested while a fresh kernel is still connecting can be dropped by JupyterLab,
    so the request is repeated until the cell has really run.
    """
    import re

    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    ran = cell.locator(".jp-InputPrompt").filter(has_text=re.compile(r"\[\d+\]"))
    dialog = page.locator(".jp-Dialog")
    for _ in range(attempts):
        choose_kernel_if_asked(page)
        if dialog.count():  # (a dialog of JupyterLab's would take the click: say which)
            raise AssertionError(f"JupyterLab shows a dialog over the notebook: {dialog.first.inner_text()[:500]!r}")
        cell.locator(".cm-content").click(timeout=20_000)
        page.keyboard.press("Control+Enter")
        try:
            ran.wait_for(timeout=15_000)
            return
        except PlaywrightTimeout:
            continue
    raise AssertionError(f"the cell did not run after {attempts} attempts")


def choose_kernel_if_asked(page, kernel: str = "Python 3 (ipykernel)") -> bool:
    """Answer JupyterLab's "Select Kernel" dialog as a learner would: the notebook's own kernel, then Select.

    JupyterLab 4.6 asks when it opens a notebook before its list of kernels has arrived, or when
    the first kernel start failed (``SessionContext.startKernel`` falls back to the dialog); on a
    loaded machine either can happen. Returns whether the dialog was there.
    """
    dialog = page.locator(".jp-Dialog", has_text="Select Kernel")
    if not dialog.count():
        return False
    dialog.locator("select").select_option(label=kernel)
    dialog.locator("button.jp-mod-accept").click()
    dialog.wait_for(state="detached")
    page.wait_for_selector(".jp-Notebook-ExecutionIndicator[data-status='idle']:visible", timeout=120_000)
    return True
