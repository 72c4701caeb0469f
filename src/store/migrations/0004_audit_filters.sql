-- The auditor console filters by user and event type and pages newest first by seq:
-- (column, seq) indexes keep a filtered page fast at hundreds of thousands of rows.
CREATE INDEX audit_log_subject ON audit_log(subject, seq);
CREATE INDEX audit_log_subject_kind ON audit_log(subject, kind, seq);
CREATE INDEX audit_log_kind ON audit_log(kind, seq);
CREATE INDEX audit_log_ip ON audit_log(ip, seq);
