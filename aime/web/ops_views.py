"""Operations pages: imports (upload, live progress, report), background services and the scheduler, health."""
from __future__ import annotations

from flask import current_app, flash, jsonify, redirect, render_template, request, url_for

from ..config import current_config
from ..errors import AimeError, BadRequest
from ..health import report
from ..jobs import imports as import_jobs
from ..jobs import scheduler, services_setup, tasks
from ..services import imports as import_service
from .blueprint import bp
from .security import is_private, login_required, signed_in


def _app():
    return current_app._get_current_object()


# --- imports -----------------------------------------------------------------------------------------

@bp.route("/imports")
def imports():
    """Upload a history or collection file; the jobs so far."""
    page = import_jobs.list_jobs(_app(), page=request.args.get("page", 1, type=int) or 1, page_size=20)
    return render_template("imports.html", page=page)


@bp.route("/imports", methods=["POST"])
@login_required
def upload_import():
    """Store the uploaded file, queue its import and go to its progress page."""
    upload = request.files.get("file")
    try:
        if upload is None or not upload.filename:
            raise BadRequest("Choose a file to upload.")
        job = import_jobs.create_upload_job(_app(), upload)
    except AimeError as error:
        flash(error.detail, "error")
        return redirect(url_for("web.imports"))
    return redirect(url_for("web.import_detail", import_id=job["id"]))


@bp.route("/imports/<int:import_id>")
def import_detail(import_id: int):
    """One import: progress (refreshed by the page script while it runs) and the report of skipped rows."""
    return render_template("import.html", job=import_service.get_job(import_id))


@bp.route("/imports/<int:import_id>.json")
def import_progress(import_id: int):
    """The job's counters for the page script (same data as GET /api/v1/imports/<id>)."""
    job = import_service.get_job(import_id)
    return jsonify({key: job[key] for key in ("id", "status", "processed", "imported", "duplicates",
                                              "skipped_count", "error_count", "message")})


# --- services and the scheduler ----------------------------------------------------------------------

@bp.route("/services")
def services():
    """Start/stop background services, edit the schedules, trigger a task, see recent runs."""
    return render_template("services.html", services=services_setup.all_service_statuses(),
                           schedule=scheduler.get_config(), runs=tasks.list_runs(page_size=15).items)


@bp.route("/services/<name>/<any(start, stop):action>", methods=["POST"])
@login_required
def service_action(name: str, action: str):
    """Start or stop one background service (persisted; takes effect within a lease period)."""
    try:
        result = (services_setup.start_service if action == "start" else services_setup.stop_service)(name)
    except AimeError as error:
        flash(error.detail, "error")
    else:
        flash(f"{result['name'].capitalize()} {'started' if result['active'] else 'stopped'}.", "ok")
    return redirect(url_for("web.services"))


@bp.route("/services/schedule", methods=["POST"])
@login_required
def edit_schedule():
    """Save every task's crontab, zone and enabled flag (all or nothing), and how many files to keep."""
    names = request.form.getlist("task")
    data = {"tasks": [{"name": name, "cron": request.form.get(f"cron-{name}", ""),
                       "timezone": request.form.get(f"tz-{name}", ""),
                       "enabled": request.form.get(f"enabled-{name}") == "on"} for name in names]}
    keep = request.form.get("max_files_per_type", "").strip()
    try:
        if keep:
            if not keep.isdigit() or not 1 <= int(keep) <= 1000:
                raise BadRequest("Files to keep must be a whole number from 1 to 1000.")
            data["max_files_per_type"] = int(keep)
        scheduler.update_config(data)
    except AimeError as error:
        flash(_with_fields(error), "error")
    else:
        flash("Schedule saved.", "ok")
    return redirect(url_for("web.services"))


@bp.route("/services/tasks/<name>/run", methods=["POST"])
@login_required
def trigger_task(name: str):
    """Run a scheduled task now."""
    try:
        run = scheduler.trigger(_app(), name)
    except AimeError as error:
        flash(error.detail, "error")
    else:
        flash(f"Started {run['task']} (run {run['run_id']}).", "ok")
    return redirect(url_for("web.services"))


def _with_fields(error: AimeError) -> str:
    # "tasks": {"0": {"cron": [...]}} -> "cron: ..." so the person sees which field to fix.
    messages = []
    for problems in ((error.errors or {}).get("tasks") or {}).values():
        for field, texts in problems.items():
            messages.append(f"{field}: {' '.join(texts)}")
    return error.detail + (" " + "; ".join(messages) if messages else "")


# --- health ------------------------------------------------------------------------------------------

def _health_body() -> dict:
    mode = current_config().health_details
    details = mode == "always" or (mode == "token" and signed_in())
    _status, body = report.health_summary(_app(), details)
    return body


@bp.route("/status")
def status():
    """Every health check with its status, latency and time (refreshed every few seconds by the page script)."""
    return render_template("status.html", health=_health_body(), private=is_private())


@bp.route("/status.json")
def status_json():
    """The health body for the page script (details only for signed-in viewers, as /health with a token)."""
    return jsonify(_health_body())
