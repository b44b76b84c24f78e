-- Dead letters closed by hand (``hub dlq resolve``, the admin API's resolve): the letter is kept
-- with status 'resolved' and who closed it, when and why, so the history stays; the audit log has
-- the same decision as a 'resolved' record. The columns stay when the same message fails again at
-- the same stage and reopens the letter: they then describe the earlier resolution.
ALTER TABLE dead_letters ADD COLUMN resolved_at TEXT;
ALTER TABLE dead_letters ADD COLUMN resolved_by TEXT;
ALTER TABLE dead_letters ADD COLUMN resolution_note TEXT;
