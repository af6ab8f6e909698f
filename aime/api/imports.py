"""Import jobs: upload an export file, follow its progress, list past imports."""
from flask import current_app
from flask.views import MethodView
from flask_smorest import Blueprint

from ..schemas.imports import ImportJobSchema, ImportPageSchema, ImportQuerySchema, ImportUploadSchema
from ..jobs import imports as jobs
from ..services import imports as service

blp = Blueprint("imports", __name__, description="History and collection file imports")


@blp.route("/imports")
class ImportList(MethodView):
    """The import jobs; POST uploads a file (this endpoint gets AIME_MAX_UPLOAD_MB)."""

    @blp.arguments(ImportQuerySchema, location="query")
    @blp.response(200, ImportPageSchema)
    def get(self, query):
        """Import jobs, newest first."""
        return jobs.list_jobs(current_app._get_current_object(), **query)

    @blp.arguments(ImportUploadSchema, location="files")
    @blp.response(202, ImportJobSchema)
    def post(self, files):
        """Upload an export file (field `file`); it is imported by a background job."""
        return jobs.create_upload_job(current_app._get_current_object(), files["file"])


@blp.route("/imports/<int:import_id>")
class ImportItem(MethodView):
    """One import job."""

    @blp.response(200, ImportJobSchema)
    def get(self, import_id):
        """One import job: status, counts, skipped rows and errors with line numbers."""
        return service.get_job(import_id)
