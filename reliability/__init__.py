"""loanbook's reliability suite: keyed repayments over HTTP under faults, then proof of the books."""
