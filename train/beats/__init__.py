"""MIT-BIH beat classification (AAMI N/S/V/F/Q): dataset, training, evaluation, study."""
