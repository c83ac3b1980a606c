-- Indexes for the look-ups that read a whole table (tests/integration/test_query_plans.py finds
-- them): every button press on a set reads its members, and every start forgets old requests.

-- A set's members in order (ImageRepo.image_set). Single images and uploads have no set, so they
-- are left out of the index; `set_id=?` implies `set_id IS NOT NULL`, which lets SQLite use it.
CREATE INDEX images_by_set ON images(set_id, set_index) WHERE set_id IS NOT NULL;

-- Handled requests older than a week, forgotten at each start (IntakeRepo.forget_finished_before).
-- The unfinished ones are not in it: they are found through intake_unfinished.
CREATE INDEX intake_finished ON intake(finished_at) WHERE finished_at IS NOT NULL;

-- Outcomes a platform still owes after a restart (JobRepo.undelivered, unfinalised): ended jobs of
-- one platform since a time. jobs_by_workspace_status serves only the platform there, which on a
-- one-platform deployment is every job ever made.
CREATE INDEX jobs_by_platform_finished ON jobs(platform, status, finished_at);
