-- The sync queue's claim and lease statements, one named query each (procrastinate keeps its
-- queue SQL this way: reviewed as SQL, not assembled from a query builder). Both engines run
-- the same text; a line marked "-- postgresql only" is left out on SQLite, where every
-- transaction already begins IMMEDIATE (store/db.py) and so claims are serialised.
--
-- :now is always the database's clock (store/clock.py, database_now), never a worker's: machines whose
-- clocks differ still agree on when a lease has run out.

-- name: claim_jobs
-- Up to :limit runnable jobs (of :connection_id, when given) of the connections this worker
-- holds a live lease on: pending jobs that are due, and running jobs whose worker's lease ran
-- out (a dead worker's). One person in one ATS organisation is worked on by one job at a time,
-- in id order, whichever connection (teammate) or worker the jobs belong to: links and the
-- effect ledger are per organisation.
UPDATE sync_jobs
   SET status = 'running',
       attempts = attempts + 1,
       locked_by = :worker,
       lease_expires_at = :lease_until
 WHERE id IN (
       SELECT j.id
         FROM sync_jobs j
         JOIN ats_connections c ON c.id = j.connection_id
         JOIN connection_leases l ON l.connection_id = j.connection_id
        WHERE l.worker_id = :worker
          AND l.expires_at > :now
          AND NOT l.releasing
          AND c.status = 'active'
          AND (CAST(:connection_id AS BIGINT) IS NULL OR j.connection_id = :connection_id)
          AND (   (j.status = 'pending' AND j.run_after <= :now)
               OR (j.status = 'running' AND j.lease_expires_at < :now))
          -- a parked connection's jobs cannot run anyway: only active ones hold a person back
          AND NOT EXISTS (
              SELECT 1
                FROM sync_jobs p
                JOIN ats_connections pc ON pc.id = p.connection_id
               WHERE p.contact_id = j.contact_id
                 AND p.id < j.id
                 AND p.status IN ('pending', 'running')
                 AND pc.provider = c.provider
                 AND pc.ats_org = c.ats_org
                 AND pc.status = 'active')
        ORDER BY j.id
        LIMIT :limit
          FOR UPDATE OF j SKIP LOCKED  -- postgresql only
       )
RETURNING id, team_id, connection_id, contact_id, enrollment_id, kind, payload, attempts;

-- name: renew_job_leases
-- A worker still on its jobs says so; a job another worker has taken over is left alone.
UPDATE sync_jobs
   SET lease_expires_at = :lease_until
 WHERE id IN :job_ids AND locked_by = :worker AND status = 'running';

-- name: finish_job
-- Only the worker that holds the job records its outcome: one that lost its lease must not
-- overwrite the new owner's.
UPDATE sync_jobs
   SET status = 'done', finished_at = :now, lease_expires_at = NULL, last_error = NULL
 WHERE id = :job_id AND locked_by = :worker AND status = 'running';

-- name: fail_job
UPDATE sync_jobs
   SET status = 'failed', finished_at = :now, lease_expires_at = NULL, last_error = :error
 WHERE id = :job_id AND locked_by = :worker AND status = 'running';

-- name: retry_job
-- :give_back is 1 when the try does not count (a 429 is the ATS pacing us, an outage is
-- nobody's fault), 0 otherwise.
UPDATE sync_jobs
   SET status = 'pending', run_after = :run_after, lease_expires_at = NULL, locked_by = NULL,
       last_error = :error, attempts = attempts - :give_back
 WHERE id = :job_id AND locked_by = :worker AND status = 'running';

-- name: worker_alive
INSERT INTO worker_heartbeats (worker_id, seen_at) VALUES (:worker, :now)
    ON CONFLICT (worker_id) DO UPDATE SET seen_at = excluded.seen_at;

-- name: renew_connection_leases
UPDATE connection_leases SET expires_at = :lease_until WHERE worker_id = :worker;

-- name: count_live_workers
SELECT count(*) FROM worker_heartbeats WHERE seen_at > :alive_since;

-- name: connections_with_work
SELECT DISTINCT j.connection_id
  FROM sync_jobs j
  JOIN ats_connections c ON c.id = j.connection_id
 WHERE c.status = 'active' AND j.status IN ('pending', 'running');

-- name: held_leases
SELECT connection_id, releasing FROM connection_leases WHERE worker_id = :worker;

-- name: mark_releasing
-- Over its fair share a worker stops claiming for a connection and hands it back once idle.
UPDATE connection_leases SET releasing = :releasing
 WHERE worker_id = :worker AND connection_id IN :connection_ids;

-- name: drop_leases
DELETE FROM connection_leases WHERE worker_id = :worker AND connection_id IN :connection_ids;

-- name: expired_leases
-- A dead worker's connections that still have work, for a live worker to take over.
SELECT connection_id FROM connection_leases
 WHERE expires_at < :now AND connection_id IN :connection_ids
 LIMIT :limit;

-- name: take_expired_lease
-- The expiry is checked again in the UPDATE itself: of two workers reaching for one dead
-- lease, the second finds it renewed and takes nothing.
UPDATE connection_leases SET worker_id = :worker, expires_at = :lease_until, releasing = FALSE
 WHERE connection_id = :connection_id AND expires_at < :now;

-- name: leased_connections
SELECT connection_id FROM connection_leases;

-- name: take_free_lease
-- A lost race for a free connection is not an error: the other worker serves it.
INSERT INTO connection_leases (connection_id, worker_id, expires_at, releasing)
VALUES (:connection_id, :worker, :lease_until, FALSE)
    ON CONFLICT (connection_id) DO NOTHING;

-- name: claimable_connections
SELECT connection_id FROM connection_leases WHERE worker_id = :worker AND NOT releasing;

-- name: release_leases
DELETE FROM connection_leases WHERE worker_id = :worker;

-- name: worker_gone
DELETE FROM worker_heartbeats WHERE worker_id = :worker;
