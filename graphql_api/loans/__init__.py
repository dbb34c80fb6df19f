"""The loans' API: products, borrowers, applications, money commands, loan queries, unidentified receipts,
the classification policy and close of business. One Query and one Mutation, merged from its modules."""
from __future__ import annotations

import strawberry

from graphql_api.loans.borrowers import BorrowerMutation, BorrowerQuery
from graphql_api.loans.close_of_business import CloseOfBusinessMutation, CloseOfBusinessQuery
from graphql_api.loans.lifecycle import ApplicationMutation
from graphql_api.loans.loan_queries import LoanQuery
from graphql_api.loans.money import MoneyMutation
from graphql_api.loans.policy import PolicyMutation, PolicyQuery
from graphql_api.loans.products import ProductMutation, ProductQuery
from graphql_api.loans.receipts import ReceiptMutation, ReceiptQuery


@strawberry.type
class LoansQuery(BorrowerQuery, ProductQuery, LoanQuery, ReceiptQuery, PolicyQuery, CloseOfBusinessQuery):
    pass


@strawberry.type
class LoansMutation(
    BorrowerMutation, ProductMutation, ApplicationMutation, MoneyMutation, ReceiptMutation, PolicyMutation,
    CloseOfBusinessMutation,
):
    pass
