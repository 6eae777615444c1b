"""infra/moto/serve.py for seeding large benchmark tables (shared/examples/report_month.rs).

Same arguments as serve.py (PARENT_PID HOST PORT). Stock moto deep-copies the whole table for
every TransactWriteItems (its rollback copy), so seeding 3,000 posts into a 110,000-item table
never finishes (1.4 s a post by 3,000 items, 12 GB after 1,560). This turns that copy off: a
failed transaction is then NOT rolled back, which a seed never needs. Never for tests/run.
"""
import copy
import os
import runpy

import moto.dynamodb.models as models
from moto.dynamodb.models.table import Table


class NoTableCopy:
    def __getattr__(self, name):
        return getattr(copy, name)

    @staticmethod
    def deepcopy(x, memo=None):
        return x if isinstance(x, Table) else copy.deepcopy(x, memo)


models.copy = NoTableCopy()
runpy.run_path(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "moto", "serve.py"), run_name="__main__")
