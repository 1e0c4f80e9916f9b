-- radclass: send every stable image series to the radclass listener (DicomModalities "radclass").
-- The structured report radclass sends back is an SR series and is not routed again.
local NOT_ROUTED = { SR = true, KO = true, PR = true, SEG = true, RTSTRUCT = true, DOC = true }

function OnStableSeries(seriesId, tags, metadata)
  if NOT_ROUTED[tags['Modality'] or ''] then
    return
  end
  print('radclass: routing stable series ' .. seriesId)
  RestApiPost('/modalities/radclass/store', DumpJson({ Resources = { seriesId }, Synchronous = true }))
end
