import { UsageError } from '../errors';
import type { Commands } from '../options';
import { runTrainJob } from '../train-job';

export const commands: Commands = {
  /** The detached runner of one training job, started by the trainer activity (not for users). */
  'train-job': (args) => {
    if (!args[0]) throw new UsageError('usage: harnessx train-job <jobDir> (started by the trainer activity)');
    return runTrainJob(args[0]);
  },
};
