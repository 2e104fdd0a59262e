"""A workflow that continues-as-new once, as BatchWorkflow and EssayWorkflow do (no `memo`
argument), upserting its own memo key on the way as they do. Its own module: the workflow
sandbox re-imports it, so it stays free of test imports."""

from temporalio import workflow


@workflow.defn
class ContinuesOnce:
    @workflow.run
    async def run(self, continued: bool) -> str:
        workflow.upsert_memo({"status": "continued" if continued else "first"})
        if not continued:
            workflow.continue_as_new(True)
        return "done"
