#!/bin/bash
# Counts the SQL statements one ingested event costs, from PostgreSQL's own log: a database on
# the PostgreSQL at $PGPORT (default 5434, logging to $PGLOG) with one stream and one webhook, `serve`
# with a 60 s poll so idle claims do not show, one warm-up event, then the counted one between two
# markers. usage: bench/roundtrips.sh NAME STREAMHOOKS_BIN BENCH_BIN; then
#   awk '/marker-start/{f=1;next} /marker-end/{f=0} f' $PGLOG | grep -E "LOG:  (statement|execute)"
set -e
NAME=$1; BIN=$2
P="psql -h 127.0.0.1 -p ${PGPORT:-5434} -U postgres -qAt"; mkdir -p /tmp/rt
$P -c "drop database if exists rt_$NAME with (force)" ; $P -c "create database rt_$NAME"
URL=postgres://postgres@127.0.0.1:${PGPORT:-5434}/rt_$NAME
RUST_LOG=warn $BIN migrate --database-url $URL >/dev/null
TOKEN=$(RUST_LOG=warn $BIN user create --admin --name A --email a@x.com --database-url $URL | python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])')
$3 --serve-receiver > /tmp/rt/recv.out &
RPID=$!
sleep 0.5
RADDR=$(head -1 /tmp/rt/recv.out | sed 's/listening on //')
$P -d rt_$NAME -c "insert into streams (id,name,description,is_public,created_at,updated_at) values ('s1','S',null,false,now(),now()); insert into webhooks_config (id, stream_id, url, description, secret, triggers, enabled, disabled_reason, consecutive_failures, created_at, updated_at) values ('w1','s1','http://$RADDR/h',null,null,'[\"commit_create\"]',true,null,0,now(),now())"
$P -c "alter database rt_$NAME set log_statement = 'all'"
SECRETS_KEY=$(head -c 32 /dev/urandom | base64) RUST_LOG=warn $BIN serve --bind 127.0.0.1:3999 --database-url $URL --allow-local-network true --poll-interval 60s &
SPID=$!
sleep 2
ev='{"streamId":"s1","userId":"u1","event":"commit_create","data":{}}'
curl -s -XPOST localhost:3999/api/events -H "authorization: Bearer $TOKEN" -H 'content-type: application/json' -d "$ev"; echo
sleep 1
$P -d rt_$NAME -c "select 'marker-start'" >/dev/null
curl -s -XPOST localhost:3999/api/events -H "authorization: Bearer $TOKEN" -H 'content-type: application/json' -d "$ev"; echo
sleep 1
$P -d rt_$NAME -c "select 'marker-end'" >/dev/null
sleep 0.5
kill $SPID $RPID; wait $SPID 2>/dev/null || true
$P -c "alter database rt_$NAME reset log_statement"
