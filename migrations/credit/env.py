"""alembic environment of the credit service (schema `credit`)."""

from services.credit.models import Base
from services.kit.alembic_env import run_online

run_online(schema="credit", metadata=Base.metadata, url_variable="CREDIT_DATABASE_URL")
