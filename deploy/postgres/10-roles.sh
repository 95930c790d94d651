#!/bin/sh
# Run by the postgres image on its first start (an empty data volume): the crm database and its two roles.
set -eu
psql --no-psqlrc --username "$POSTGRES_USER" --dbname postgres \
  -v owner=crm_owner -v owner_password="$CRM_OWNER_DB_PASSWORD" \
  -v app=crm_app -v app_password="$CRM_APP_DB_PASSWORD" -v dbname=crm \
  -f /crm-postgres/roles.psql
