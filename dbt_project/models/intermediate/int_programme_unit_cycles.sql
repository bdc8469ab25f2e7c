-- One row per programme unit and cycle of its calendar (int_programme_unit_years): the years the calendar gives
-- the cycle and whether another cycle of the unit took part of its span (is_cut_short, never complete). The
-- definition is the macro programme_unit_cycles (macros/programme_cycles.sql), which fct_evaluation_cycle reads
-- too; fct_third_party_evaluation reads this model.
{{ programme_unit_cycles(ref('int_programme_unit_years')) }}
