"""alembic environment of the sharing service (schema `sharing`)."""

from services.kit.alembic_env import run_online
from services.sharing.models import Base

run_online(schema="sharing", metadata=Base.metadata, url_variable="SHARING_DATABASE_URL")
