"""The magazine: editions generated from the listener's own data, on a schedule or on demand."""
from flask import current_app
from flask.views import MethodView
from flask_smorest import Blueprint

from ..schemas.magazine import EditionPageSchema, EditionQuerySchema, EditionSchema
from ..schemas.scheduler import TriggerResultSchema
from ..jobs import scheduler
from ..services import magazine

blp = Blueprint("magazines", __name__, description="The magazine's editions")


@blp.route("/magazines")
class EditionList(MethodView):
    @blp.arguments(EditionQuerySchema, location="query")
    @blp.response(200, EditionPageSchema)
    def get(self, query):
        """Editions, newest first."""
        return magazine.list_editions(**query)

    @blp.response(202, TriggerResultSchema)
    def post(self):
        """Write a new edition now (the `magazine` task); follow /services/scheduler/runs/<run_id>, then
        /magazines?task_run_id=<run_id>. 409 while one is being written."""
        return scheduler.trigger(current_app._get_current_object(), "magazine")


@blp.route("/magazines/<int:edition_id>")
@blp.response(200, EditionSchema)
def edition(edition_id):
    """One edition."""
    return magazine.get_edition(edition_id)
