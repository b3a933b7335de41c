"""The state database at ``HEAD`` on SQLite, as the revisions build it: the ``CREATE`` statements
Alembic leaves in ``sqlite_master`` (in order), replayed by ``metrics.alerting.migrations.upgrade`` on a
new, empty SQLite file instead of loading Alembic and running every revision.

Generated (``metrics.alerting.migrations.sqlite_statements`` over a file the revisions built); a test
builds a file both ways and compares their schemas, so a new revision fails it until this is
regenerated."""

REVISION = "0003"
STATEMENTS: tuple[str, ...] = (
    ('CREATE TABLE alembic_version (\n'
     '\tversion_num VARCHAR(32) NOT NULL, \n'
     '\tCONSTRAINT alembic_version_pkc PRIMARY KEY (version_num)\n'
     ')'),
    ('CREATE TABLE meta (\n'
     '\t"key" VARCHAR(64) NOT NULL, \n'
     '\tvalue VARCHAR(256) NOT NULL, \n'
     '\tPRIMARY KEY ("key")\n'
     ')'),
    ('CREATE TABLE alert_states (\n'
     '\trule VARCHAR(200) NOT NULL, \n'
     '\tentity VARCHAR(200) NOT NULL, \n'
     '\tstate VARCHAR(16) NOT NULL, \n'
     '\tactive_since DATETIME, \n'
     '\tpending_evals INTEGER NOT NULL, \n'
     '\tfired_at DATETIME, \n'
     '\tcleared_since DATETIME, \n'
     '\tcleared_evals INTEGER, \n'
     '\tlast_notified_at DATETIME, \n'
     '\tvalue FLOAT, \n'
     '\tstatement VARCHAR(200), \n'
     '\tfired_fields JSON, \n'
     '\tnotified_state VARCHAR(16), \n'
     '\tnotified_fired_at DATETIME, \n'
     '\tnotified_at DATETIME, \n'
     '\tupdated_at DATETIME NOT NULL, \n'
     '\tPRIMARY KEY (rule, entity)\n'
     ')'),
    ('CREATE TABLE transitions (\n'
     '\talert_id VARCHAR(64) NOT NULL, \n'
     '\trule VARCHAR(200) NOT NULL, \n'
     '\tentity VARCHAR(200) NOT NULL, \n'
     '\tstate VARCHAR(16) NOT NULL, \n'
     '\tat DATETIME NOT NULL, \n'
     '\tvalue FLOAT, \n'
     '\tseverity VARCHAR(32), \n'
     '\tsummary TEXT, \n'
     '\tstatement VARCHAR(200), \n'
     '\trecorded BOOLEAN NOT NULL, \n'
     '\tcreated_at DATETIME NOT NULL, \n'
     '\tPRIMARY KEY (alert_id)\n'
     ')'),
    ('CREATE INDEX ix_transitions_recorded ON transitions (recorded)'),
    ('CREATE TABLE notifications (\n'
     '\tid INTEGER NOT NULL, \n'
     '\tidempotency_key VARCHAR(64) NOT NULL, \n'
     '\trule VARCHAR(200) NOT NULL, \n'
     '\tentity VARCHAR(200) NOT NULL, \n'
     '\tstate VARCHAR(16) NOT NULL, \n'
     '\tchannel VARCHAR(100) NOT NULL, \n'
     '\tpayload JSON NOT NULL, \n'
     '\tcreated_at DATETIME NOT NULL, \n'
     '\tnext_attempt_at DATETIME NOT NULL, \n'
     '\tattempts INTEGER NOT NULL, \n'
     '\tstatus VARCHAR(16) NOT NULL, \n'
     '\tlast_error TEXT, \n'
     '\tdelivered_at DATETIME, claimed_by VARCHAR(200), claim_until DATETIME, \n'
     '\tPRIMARY KEY (id), \n'
     '\tUNIQUE (idempotency_key)\n'
     ')'),
    ('CREATE INDEX ix_notifications_due ON notifications (status, next_attempt_at)'),
    ('CREATE TABLE delivery_attempts (\n'
     '\tid INTEGER NOT NULL, \n'
     '\tnotification_id INTEGER NOT NULL, \n'
     '\tattempt INTEGER NOT NULL, \n'
     '\tat DATETIME NOT NULL, \n'
     '\toutcome VARCHAR(16) NOT NULL, \n'
     '\terror TEXT, \n'
     '\tPRIMARY KEY (id)\n'
     ')'),
    ('CREATE INDEX ix_delivery_attempts_notification_id ON delivery_attempts (notification_id)'),
    ('CREATE TABLE silences (\n'
     '\tid INTEGER NOT NULL, \n'
     '\trule VARCHAR(200) NOT NULL, \n'
     '\tentity VARCHAR(200), \n'
     '\treason TEXT NOT NULL, \n'
     '\tcreated_at DATETIME NOT NULL, \n'
     '\texpires_at DATETIME NOT NULL, \n'
     '\tPRIMARY KEY (id)\n'
     ')'),
    ('CREATE TABLE endpoints (\n'
     '\tchannel VARCHAR(100) NOT NULL, \n'
     '\tdisabled_at DATETIME, \n'
     '\treason TEXT, \n'
     '\tPRIMARY KEY (channel)\n'
     ')'),
    ('CREATE TABLE evaluations (\n'
     '\tat DATETIME NOT NULL, \n'
     '\tran_at DATETIME NOT NULL, \n'
     '\trules INTEGER NOT NULL, \n'
     '\tinstances INTEGER NOT NULL, \n'
     '\ttransitions INTEGER NOT NULL, \n'
     '\tnotifications INTEGER NOT NULL, \n'
     '\tPRIMARY KEY (at)\n'
     ')'),
    ('CREATE TABLE job_runs (\n'
     '\tid INTEGER NOT NULL, \n'
     '\tjob VARCHAR(100) NOT NULL, \n'
     '\tstarted_at DATETIME NOT NULL, \n'
     '\tfinished_at DATETIME, \n'
     '\tstatus VARCHAR(16) NOT NULL, \n'
     '\tsummary JSON, \n'
     '\tPRIMARY KEY (id)\n'
     ')'),
    ('CREATE INDEX ix_job_runs_job ON job_runs (job)'),
    ('CREATE TABLE leadership (\n'
     '\tname VARCHAR(64) NOT NULL, \n'
     '\tepoch BIGINT NOT NULL, \n'
     '\tholder VARCHAR(200), \n'
     '\tsince DATETIME, \n'
     '\theartbeat_at DATETIME, \n'
     '\tPRIMARY KEY (name)\n'
     ')'),
    ('CREATE TABLE replicas (\n'
     '\treplica_id VARCHAR(200) NOT NULL, \n'
     '\thost VARCHAR(200) NOT NULL, \n'
     '\tpid INTEGER NOT NULL, \n'
     '\tstarted_at DATETIME NOT NULL, \n'
     '\theartbeat_at DATETIME NOT NULL, \n'
     '\trole VARCHAR(16) NOT NULL, \n'
     '\tepoch BIGINT, \n'
     '\tPRIMARY KEY (replica_id)\n'
     ')'),
)
