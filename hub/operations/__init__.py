"""Operations data: dead letters, the exception and review queues, and the audit log.

Kept in the ledger's database (its own tables, the same migrations), so an operator's view of a
message (where it stopped, why, what was decided) lives beside the effects it had.
"""

from hub.operations.store import DeadLetterRow, HeldRow, OperationsStore, QueueDepth

__all__ = ["DeadLetterRow", "HeldRow", "OperationsStore", "QueueDepth"]
